#!/usr/bin/env python3
"""Renders our Tables through the real kubectl.

Serves the Table JSON that printers_table_tool builds from testdata/*.in.json on a plain-HTTP
127.0.0.1 listener (with /version and aggregated discovery, as kubectl 1.32 expects), runs
`kubectl --server http://127.0.0.1:PORT get ...` and compares stdout with testdata/kubectl/*.txt.
Usage: kubectl_render_test.py TABLE_TOOL TESTDATA_DIR [KUBECTL]
Set K3DPP_UPDATE_GOLDEN=1 to rewrite the expected outputs.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOW = "2025-11-16T12:00:00Z"
DISCOVERY_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

# (group, version, resource, singular, kind, namespaced, short names, testdata input)
RESOURCES = [
    ("", "v1", "pods", "pod", "Pod", True, ["po"], "pods"),
    ("", "v1", "nodes", "node", "Node", False, ["no"], "nodes"),
    ("", "v1", "services", "service", "Service", True, ["svc"], "services"),
    ("", "v1", "namespaces", "namespace", "Namespace", False, ["ns"], "namespaces"),
    ("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False, ["pv"], "pvs"),
    ("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", True, ["pvc"], "pvcs"),
    ("", "v1", "events", "event", "Event", True, ["ev"], "events"),
    ("apps", "v1", "deployments", "deployment", "Deployment", True, ["deploy"], "deployments"),
    ("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ["rs"], "replicasets"),
    ("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False, ["sc"], "storageclasses"),
    ("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True, [], "roles"),
]

# (expected-output file, kubectl arguments)
CASES = [
    ("get-pods", ["get", "pods"]),
    ("get-pods-wide", ["get", "pods", "-o", "wide"]),
    ("get-pods-all-namespaces", ["get", "pods", "-A"]),
    ("get-pods-show-labels", ["get", "po", "--show-labels"]),
    ("get-nodes", ["get", "nodes"]),
    ("get-nodes-wide", ["get", "nodes", "-o", "wide"]),
    ("get-svc-wide", ["get", "svc", "-o", "wide"]),
    ("get-ns", ["get", "namespaces"]),
    ("get-pv", ["get", "pv"]),
    ("get-pvc", ["get", "pvc"]),
    ("get-pvc-wide", ["get", "pvc", "-o", "wide"]),
    ("get-deploy", ["get", "deployment"]),
    ("get-deploy-wide", ["get", "deploy", "-o", "wide"]),
    ("get-rs", ["get", "rs"]),
    ("get-sc", ["get", "storageclass"]),
    ("get-events", ["get", "events"]),
    ("get-roles", ["get", "roles"]),
]


def discovery(group):
    versions = {}
    for g, v, res, singular, kind, namespaced, short, _ in RESOURCES:
        if g != group:
            continue
        versions.setdefault(v, []).append({
            "resource": res, "singularResource": singular, "scope": "Namespaced" if namespaced else "Cluster",
            "responseKind": {"group": "", "version": "", "kind": kind}, "shortNames": short,
            "verbs": VERBS})
    return {"metadata": {"name": group},
            "versions": [{"version": v, "freshness": "Current", "resources": r} for v, r in versions.items()]}


def main():
    tool, testdata = sys.argv[1], sys.argv[2]
    kubectl = sys.argv[3] if len(sys.argv) > 3 else shutil.which("kubectl")
    if not kubectl:
        print("kubectl not found; skipping")
        return 77

    routes = {}
    for g, v, res, _, _, namespaced, _, data in RESOURCES:
        out = subprocess.run([tool, os.path.join(testdata, data + ".in.json"), NOW], check=True,
                             capture_output=True, text=True).stdout
        prefix = "/api/v1" if g == "" else f"/apis/{g}/{v}"
        routes[f"{prefix}/namespaces/default/{res}" if namespaced else f"{prefix}/{res}"] = out
        if namespaced:
            routes[f"{prefix}/{res}"] = out  # -A
    api = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
           "items": [discovery("")]}
    groups = sorted({r[0] for r in RESOURCES if r[0]})
    apis = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": [discovery(g) for g in groups]}
    version = {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "0", "gitTreeState": "clean",
               "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
               "platform": "linux/amd64"}
    problems = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, code, ctype, body):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/version":
                return self.send(200, "application/json", json.dumps(version))
            if path == "/api":
                return self.send(200, DISCOVERY_TYPE, json.dumps(api))
            if path == "/apis":
                return self.send(200, DISCOVERY_TYPE, json.dumps(apis))
            if path in routes:
                if "as=Table" not in self.headers.get("Accept", ""):
                    problems.append(f"{path}: Accept without Table: {self.headers.get('Accept')}")
                return self.send(200, TABLE_TYPE, routes[path])
            problems.append(f"unexpected request {self.path}")
            return self.send(404, "application/json", json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="k3dpp-printers-")
    failures = 0
    try:
        kubeconfig = os.path.join(tmp, "kubeconfig")
        open(kubeconfig, "w").close()
        env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=tmp)
        env.pop("KUBERNETES_SERVICE_HOST", None)
        update = os.environ.get("K3DPP_UPDATE_GOLDEN")
        for name, args in CASES:
            cmd = [kubectl, "--server", f"http://127.0.0.1:{server.server_port}", "--cache-dir",
                   os.path.join(tmp, "cache"), "-n", "default"] + args
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            golden = os.path.join(testdata, "kubectl", name + ".txt")
            if update:
                with open(golden, "w") as f:
                    f.write(r.stdout)
            with open(golden) as f:
                want = f.read()
            if r.returncode != 0 or r.stdout != want:
                failures += 1
                print(f"FAIL {name}: kubectl {' '.join(args)} (exit {r.returncode})\n--- stderr\n{r.stderr}"
                      f"--- expected\n{want}--- actual\n{r.stdout}")
            else:
                print(f"ok   {name}")
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print("FAIL server saw:", p)
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
