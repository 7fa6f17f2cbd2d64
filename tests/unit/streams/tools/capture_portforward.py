#!/usr/bin/env python3
"""Captures what the real kubectl sends on a SPDY/3.1 port-forward connection (fixture generator).

Serves plain HTTP on 127.0.0.1: /version, the pod GET (a Running pod) and the portforward upgrade
(101 SPDY/3.1, portforward.k8s.io). After the upgrade it records every byte kubectl sends, answers
each SYN_STREAM with an empty SYN_REPLY, and writes the raw bytes to OUT once two SYN_STREAMs
(error + data) and some data have arrived. Run by hand:
  capture_portforward.py OUT  (then it runs kubectl itself and connects to the forwarded port)
"""
import json, os, socket, struct, subprocess, sys, tempfile, threading, time, zlib

WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
         "accept-ranges age allow authorization cache-control connection content-base content-encoding "
         "content-language content-length content-location content-md5 content-range content-type date "
         "etag expect expires from host if-match if-modified-since if-none-match if-range "
         "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
         "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
         "user-agent vary via warning www-authenticate method get status").split() + [
         "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
        "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICT = b"".join(struct.pack(">I", len(w)) + w.encode() for w in WORDS) + TAIL.encode()

POD = {"kind": "Pod", "apiVersion": "v1",
       "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
       "spec": {"containers": [{"name": "c", "image": "x"}]},
       "status": {"phase": "Running"}}

DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["get", "list"], "shortNames": ["po"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions", "verbs": ["create", "get"]},
        {"name": "pods/portforward", "singularName": "", "namespaced": True, "kind": "PodPortForwardOptions",
         "verbs": ["create", "get"]}]},
}


def http_response(code, body, ctype="application/json"):
    return (f"HTTP/1.1 {code} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def serve(conn, out, done):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = conn.recv(65536)
            if not d:
                return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        line = head.split(b"\r\n")[0].decode()
        method, path = line.split()[:2]
        if path.startswith("/version"):
            conn.sendall(http_response(200, json.dumps({"major": "1", "minor": "32", "gitVersion": "v1.32.4"}).encode()))
        elif "/portforward" in path and method == "POST":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                         b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n")
            comp = zlib.compressobj(zdict=DICT)
            raw = buf
            syns = 0
            while True:
                # answer every SYN_STREAM seen so far
                pos, syns_now = 0, 0
                while pos + 8 <= len(raw):
                    w0, fl = struct.unpack(">II", raw[pos:pos + 8])
                    ln = fl & 0xFFFFFF
                    if pos + 8 + ln > len(raw):
                        break
                    if w0 == 0x80030001:
                        syns_now += 1
                        if syns_now > syns:
                            sid = struct.unpack(">I", raw[pos + 8:pos + 12])[0]
                            block = comp.compress(struct.pack(">I", 0)) + comp.flush(zlib.Z_SYNC_FLUSH)
                            conn.sendall(struct.pack(">IBBH", 0x80030002, 0, 0, 4 + len(block))[:4] +
                                         bytes([0]) + (4 + len(block)).to_bytes(3, "big") +
                                         struct.pack(">I", sid) + block)
                            syns = syns_now
                    elif w0 & 0x80000000 == 0 and syns >= 2 and ln > 0:
                        open(out, "wb").write(raw[:pos + 8 + ln])
                        done.set()
                        return
                    pos += 8 + ln
                d = conn.recv(65536)
                if not d:
                    return
                raw += d
        elif path.split("?")[0] in DISCOVERY:
            conn.sendall(http_response(200, json.dumps(DISCOVERY[path.split("?")[0]]).encode()))
        elif "/pods/p" in path:
            conn.sendall(http_response(200, json.dumps(POD).encode()))
        else:
            conn.sendall(http_response(404, b'{"kind":"Status","status":"Failure","code":404}'))


def main():
    out = sys.argv[1]
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port = ls.getsockname()[1]
    done = threading.Event()

    def acceptor():
        while not done.is_set():
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c, out, done), daemon=True).start()
    threading.Thread(target=acceptor, daemon=True).start()
    tmp = tempfile.mkdtemp()
    kc = os.path.join(tmp, "kubeconfig")
    open(kc, "w").write(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u, namespace: default}}}}]
current-context: c
""")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); local = s.getsockname()[1]; s.close()
    env = dict(os.environ, KUBECONFIG=kc, KUBECTL_PORT_FORWARD_WEBSOCKETS="false", HOME=tmp)
    kp = subprocess.Popen(["kubectl", "port-forward", "pod/p", f"{local}:80"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while True:
        line = kp.stdout.readline().decode()
        print("kubectl:", line.strip())
        if not line or "Forwarding from" in line:
            break
    c = socket.create_connection(("127.0.0.1", local))
    c.sendall(b"hello from the client\n")
    done.wait(10)
    kp.terminate()
    print(kp.stdout.read().decode())
    print("captured" if done.is_set() else "NOT captured", out)


main()
