#!/usr/bin/env python3
"""Generates protobuf_schema.inc: the field tables our protobuf decoder walks.

Facts come from Kubernetes' published API definitions:
  - field numbers, names and types from the generated.proto files (k8s.io/api core|apps|batch|networking v1,
    k8s.io/apimachinery meta v1), laid out as PROTO_ROOT/k8s.io/...;
  - Go pointer-ness, omitempty and inline embedding from the matching types.go (GO_ROOT/...),
    so an explicit zero in a pointer field (replicas: 0) survives and inline structs flatten.
Usage: gen_protobuf_schema.py PROTO_ROOT GO_API_ROOT GO_APIMACHINERY_ROOT > protobuf_schema.inc
"""
import re
import sys

PROTO_ROOT, GO_API, GO_AM = sys.argv[1:4]
PKGS = {
    "k8s.io.api.core.v1": (f"{PROTO_ROOT}/k8s.io/api/core/v1/generated.proto", [f"{GO_API}/core/v1/types.go"]),
    "k8s.io.api.apps.v1": (f"{PROTO_ROOT}/k8s.io/api/apps/v1/generated.proto", [f"{GO_API}/apps/v1/types.go"]),
    "k8s.io.api.batch.v1": (f"{PROTO_ROOT}/k8s.io/api/batch/v1/generated.proto", [f"{GO_API}/batch/v1/types.go"]),
    "k8s.io.api.networking.v1": (f"{PROTO_ROOT}/k8s.io/api/networking/v1/generated.proto",
                                 [f"{GO_API}/networking/v1/types.go"]),
    "k8s.io.apimachinery.pkg.apis.meta.v1": (
        f"{PROTO_ROOT}/k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
        [f"{GO_AM}/pkg/apis/meta/v1/types.go"]),
}
# Messages with a special JSON form.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "kTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "kMicroTime",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "kQuantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "kIntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "kRawJson",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "kRawJson",
}
SCALAR = {"string": "kString", "bytes": "kBytes", "int32": "kInt32", "int64": "kInt64", "bool": "kBool"}
ROOTS = [
    ("v1", "Namespace", "k8s.io.api.core.v1.Namespace"),
    ("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap"),
    ("v1", "Secret", "k8s.io.api.core.v1.Secret"),
    ("v1", "ServiceAccount", "k8s.io.api.core.v1.ServiceAccount"),
    ("v1", "Service", "k8s.io.api.core.v1.Service"),
    ("v1", "Pod", "k8s.io.api.core.v1.Pod"),
    ("v1", "PodTemplate", "k8s.io.api.core.v1.PodTemplate"),
    ("v1", "ReplicationController", "k8s.io.api.core.v1.ReplicationController"),
    ("v1", "PersistentVolumeClaim", "k8s.io.api.core.v1.PersistentVolumeClaim"),
    ("v1", "PersistentVolume", "k8s.io.api.core.v1.PersistentVolume"),
    ("v1", "Endpoints", "k8s.io.api.core.v1.Endpoints"),
    ("v1", "ResourceQuota", "k8s.io.api.core.v1.ResourceQuota"),
    ("v1", "LimitRange", "k8s.io.api.core.v1.LimitRange"),
    ("v1", "Event", "k8s.io.api.core.v1.Event"),
    ("v1", "Node", "k8s.io.api.core.v1.Node"),
    ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "k8s.io.api.apps.v1.ReplicaSet"),
    ("apps/v1", "StatefulSet", "k8s.io.api.apps.v1.StatefulSet"),
    ("apps/v1", "DaemonSet", "k8s.io.api.apps.v1.DaemonSet"),
    ("batch/v1", "Job", "k8s.io.api.batch.v1.Job"),
    ("batch/v1", "CronJob", "k8s.io.api.batch.v1.CronJob"),
    ("networking.k8s.io/v1", "Ingress", "k8s.io.api.networking.v1.Ingress"),
    ("networking.k8s.io/v1", "IngressClass", "k8s.io.api.networking.v1.IngressClass"),
]


def strip_comments(text):
    return "\n".join(l.split("//")[0] for l in text.splitlines())


def parse_proto(pkg, path):
    msgs = {}
    text = strip_comments(open(path).read())
    for m in re.finditer(r"^message (\w+) \{(.*?)^\}", text, re.S | re.M):
        name, body = m.group(1), m.group(2)
        fields = []
        for f in re.finditer(r"^\s*(optional|repeated|required)\s+(\S+)\s+(\w+)\s*=\s*(\d+)", body, re.M):
            fields.append(dict(label=f.group(1), type=f.group(2), name=f.group(3), number=int(f.group(4))))
        for f in re.finditer(r"^\s*map<\s*string\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)", body, re.M):
            fields.append(dict(label="map", type=f.group(1), name=f.group(2), number=int(f.group(3))))
        msgs[f"{pkg}.{name}"] = sorted(fields, key=lambda f: f["number"])
    return msgs


def parse_go(paths):
    """(struct, protobuf number) -> dict(pointer, omitempty, inline, json)."""
    info = {}
    for path in paths:
        text = open(path).read()
        for m in re.finditer(r"^type (\w+) struct \{(.*?)^\}", text, re.S | re.M):
            struct, body = m.group(1), m.group(2)
            for line in body.splitlines():
                t = re.search(r'`json:"([^"]*)".*?protobuf:"([^"]*)"', line)
                if not t:
                    continue
                decl = line[: line.index("`")].split()
                typ = decl[-1] if decl else ""
                jsontag = t.group(1).split(",")
                pb = t.group(2).split(",")
                try:
                    num = int(pb[1])
                except (IndexError, ValueError):
                    continue
                info[(struct, num)] = dict(
                    pointer=typ.startswith("*"),
                    omitempty="omitempty" in jsontag[1:],
                    inline=jsontag[0] == "",
                    json=jsontag[0],
                )
    return info


def main():
    msgs, go = {}, {}
    for pkg, (proto, gofiles) in PKGS.items():
        msgs.update(parse_proto(pkg, proto))
        go.update({(pkg, k[0], k[1]): v for k, v in parse_go(gofiles).items()})

    def resolve(pkg, typ):
        if typ.startswith("."):
            return typ[1:]
        return f"{pkg}.{typ}"

    order, seen = [], set()

    def visit(full):
        if full in seen or full in SPECIAL:
            return
        if full not in msgs:
            return
        seen.add(full)
        order.append(full)
        pkg = full.rsplit(".", 1)[0]
        for f in msgs[full]:
            if f["type"] not in SCALAR:
                visit(resolve(pkg, f["type"]))

    for _, _, root in ROOTS:
        visit(root)
    index = {name: i for i, name in enumerate(order)}

    out = ["// Generated by tools/gen_protobuf_schema.py from Kubernetes' generated.proto and types.go",
           "// (k8s.io/api core|apps|batch|networking v1, k8s.io/apimachinery meta v1). Do not edit by hand.",
           "// NOLINTBEGIN", ""]
    for full in order:
        pkg, short = full.rsplit(".", 1)
        rows = []
        for f in msgs[full]:
            typ = f["type"]
            flags = []
            ref = -1
            if typ in SCALAR:
                kind = SCALAR[typ]
            else:
                target = resolve(pkg, typ)
                if target in SPECIAL:
                    kind = SPECIAL[target]
                elif target in index:
                    kind, ref = "kMessage", index[target]
                else:
                    continue  # unknown message (other API groups, Duration, ...): skipped
            if f["label"] == "repeated":
                flags.append("kRepeated")
            if f["label"] == "map":
                flags.append("kMap")
            g = go.get((pkg, short, f["number"]))
            json_name = f["name"]
            if g:
                if g["pointer"]:
                    flags.append("kPointer")
                if g["omitempty"]:
                    flags.append("kOmitEmpty")
                if g["inline"]:
                    flags.append("kInline")
                elif g["json"]:
                    json_name = g["json"]
            flag_expr = " | ".join(flags) if flags else "0"
            rows.append(f'    {{{f["number"]}, "{json_name}", FieldKind::{kind}, {flag_expr}, {ref}}},')
        out.append(f"// {full}")
        out.append(f"constexpr ProtoField kFields{index[full]}[] = {{")
        out.extend(rows if rows else ["    {0, \"\", FieldKind::kString, 0, -1},"])
        out.append("};")
    out.append("")
    out.append("constexpr ProtoMessage kMessages[] = {")
    for full in order:
        n = len([1 for f in msgs[full]]) and f"std::size(kFields{index[full]})"
        out.append(f'    {{"{full.rsplit(".", 1)[1]}", kFields{index[full]}, {n}}},')
    out.append("};")
    out.append("")
    out.append("constexpr ProtoRoot kRoots[] = {")
    for api, kind, full in ROOTS:
        out.append(f'    {{"{api}", "{kind}", {index[full]}}},')
    out.append("};")
    out.append("// NOLINTEND")
    print("\n".join(out))


main()
