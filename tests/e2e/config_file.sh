#!/usr/bin/env bash
# Chapter: k3d config files and k3d's flags. k3d's own example files (k3d-configs/, copied from
# k3d) are refused by name where they use what k3dpp lacks; the docs example adapted to k3dpp
# (k3d-configs/docs_configfile_k3dpp.yaml) creates one cluster (1 server, 1 agent) and every option
# it sets is checked in the result: docker inspect (env, memory, labels, ulimits, /etc/hosts,
# network and subnet), the token, kubectl get nodes --show-labels, the API certificate's SAN, the
# load balancer's ports and nginx settings, the host volume; image import of `docker save`
# archives; then -o json|yaml|wide listings, bash completion of cluster names, `cluster delete -c`.
source "$(dirname "$0")/lib.sh"

t0=$SECONDS
cfg=$(dirname "$0")/k3d-configs
e2e_new_cluster c config
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export E2E_CLUSTER=$c E2E_API_PORT=$(free_port) E2E_HTTP_PORT=$(free_port) E2E_HOSTDIR=$E2E_TMP/hostdir
mkdir -p "$E2E_HOSTDIR" && echo "from the host" >"$E2E_HOSTDIR/f.txt"

# --- k3d's own files: what k3dpp lacks is refused by name, with its line, before anything exists ---
expect_fail "docs example: files refused by name and line" \
  'docs_configfile.yaml:[0-9]+: files: not supported by k3dpp' -- "$K3DPP" cluster create -c "$cfg/docs_configfile.yaml"
expect_fail "k3d test config: registries.config refused by name and line" \
  'config_test_simple.yaml:20: registries.config: not supported by k3dpp' -- \
  "$K3DPP" cluster create -c "$cfg/config_test_simple.yaml"
expect_fail "config_env.yaml: \${K3D_TEST_SERVERS} expanded (servers: x is no number)" \
  "config_env.yaml:5: servers: want a non-negative integer \(got 'x'\)" -- \
  env K3D_TEST_SERVERS=x "$K3DPP" cluster create -c "$cfg/config_env.yaml"
expect_fail "a k3d flag k3dpp lacks: one line saying what to do" '^ERROR: --gpus is not supported by k3dpp: ' -- \
  "$K3DPP" cluster create "$c" --gpus all
expect "nothing was created by the refusals" '^$' -- docker ps -aq --filter "label=k3dpp.cluster=$c"

# --- k3d's config_env.yaml as it is: ${K3D_TEST_SERVERS} servers, cluster testenvexpand ---
E2E_CLUSTERS+=(testenvexpand)
run "config_env.yaml creates cluster testenvexpand (K3D_TEST_SERVERS=1)" -- \
  env K3D_TEST_SERVERS=1 "$K3DPP" cluster create -c "$cfg/config_env.yaml" --kubeconfig-update-default=false
expect "testenvexpand: 1 server running, no agent, a load balancer" '^testenvexpand\s+1/1\s+0/0\s+true$' -- \
  "$K3DPP" cluster list testenvexpand --no-headers
run "cluster delete -c config_env.yaml" -- env K3D_TEST_SERVERS=1 "$K3DPP" cluster delete -c "$cfg/config_env.yaml"
expect "testenvexpand is gone" '^$' -- docker ps -aq --filter "label=k3dpp.cluster=testenvexpand"

# --- the adapted docs example creates its cluster ---
run "cluster create -c docs_configfile_k3dpp.yaml" -- "$K3DPP" cluster create -c "$cfg/docs_configfile_k3dpp.yaml"
server=k3dpp-$c-server-0
agent=k3dpp-$c-agent-0
lb=k3dpp-$c-serverlb
env_of() { docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$1"; }
expect "env: bar=baz in server-0 (server:0)" '^bar=baz$' -- env_of "$server"
run "env: not in agent-0" -- bash -c "! docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' $agent | grep -q '^bar=baz$'"
expect "memory: servers 2g" '^2147483648 2147483648$' -- docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' "$server"
expect "memory: agents 1g" '^1073741824 1073741824$' -- docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}' "$agent"
expect "runtime label bar=baz on agent-0" '^baz$' -- docker inspect -f '{{index .Config.Labels "bar"}}' "$agent"
expect "runtime label not on server-0" '^$' -- docker inspect -f '{{index .Config.Labels "bar"}}' "$server"
expect "ulimit nofile 10000:20000" 'nofile 10000 20000' -- \
  docker inspect -f '{{range .HostConfig.Ulimits}}{{.Name}} {{.Soft}} {{.Hard}}{{println}}{{end}}' "$agent"
expect "hostAliases in the nodes' /etc/hosts" '1\.2\.3\.4\s+my\.host\.local' -- docker exec "$agent" cat /etc/hosts
expect "hostAliases: cloud.flare.dns" '1\.1\.1\.1\s+cloud\.flare\.dns' -- docker exec "$server" cat /etc/hosts
expect "network and subnet" "^10\.213\.7\.0/24$" -- docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$c-net"
expect "token: superSecretToken" '^superSecretToken$' -- docker exec "$server" cat /etc/k3dpp/token
expect "volume: the host dir in server-0" 'from the host' -- docker exec "$server" cat /path/in/node/f.txt
expect "volume: the host dir in agent-0" 'from the host' -- docker exec "$agent" cat /path/in/node/f.txt
expect "kubeAPI hostPort: the kubeconfig's server" "server: https://127\.0\.0\.1:$E2E_API_PORT" -- \
  kubectl config view --minify --context "k3dpp-$c"
expect "kubectl get nodes: server-0 Ready" "^$server\s+Ready" -- kubectl --context "k3dpp-$c" get nodes
expect "kubectl get nodes: agent-0 Ready" "^$agent\s+Ready" -- kubectl --context "k3dpp-$c" get nodes
expect "nodeLabels foo=bar on agent-0 (kubectl get nodes --show-labels)" "^$agent\s.*foo=bar" -- \
  kubectl --context "k3dpp-$c" get nodes --show-labels
run "nodeLabels: not on server-0" -- bash -c "! kubectl --context k3dpp-$c get node $server --show-labels | grep -q foo=bar"
expect "extraArgs --tls-san=my.host.domain: the API certificate names it" "^node/$server$" -- \
  kubectl --context "k3dpp-$c" --tls-server-name my.host.domain get nodes -o name
expect_fail "a name not in the certificate is refused" 'certificate' -- \
  kubectl --context "k3dpp-$c" --tls-server-name not.in.the.cert get nodes -o name
expect "LB publishes the API port" "^127\.0\.0\.1:$E2E_API_PORT$" -- docker port "$lb" 6443/tcp
expect "LB publishes ports[0] ($E2E_HTTP_PORT:80)" ":$E2E_HTTP_PORT$" -- docker port "$lb" 80/tcp
expect "LB configOverrides workerConnections=2048" 'worker_connections 2048;' -- docker exec "$lb" cat /etc/nginx/nginx.conf

# --- image import from `docker save` archives (plain and gzipped) ---
run "docker save busybox" -- docker save busybox:latest -o "$E2E_TMP/busybox.tar"
run "gzip it" -- bash -c "gzip -c '$E2E_TMP/busybox.tar' > '$E2E_TMP/busybox.tar.gz'"
run "image import busybox.tar.gz (an archive, --mode direct)" -- "$K3DPP" image import "$E2E_TMP/busybox.tar.gz" -c "$c" --mode direct
expect "busybox in agent-0's containerd" 'docker.io/library/busybox:latest' -- docker exec "$agent" ctr -n k8s.io images ls -q
run "image import busybox.tar --mode tools" -- "$K3DPP" image import "$E2E_TMP/busybox.tar" -c "$c" --mode tools
expect "busybox in server-0's containerd" 'docker.io/library/busybox:latest' -- docker exec "$server" ctr -n k8s.io images ls -q

# --- listings and completion ---
expect "cluster list -o json: k3d field names" "\"name\": \"$c\"[\s\S]*\"serversCount\": 1[\s\S]*\"agentsCount\": 1" -- \
  "$K3DPP" cluster list "$c" -o json
expect "cluster list -o yaml" "^- name: $c$" -- "$K3DPP" cluster list "$c" -o yaml
expect "node list -o wide: memory column" "^$server\s+server\s+$c\s+running\s+\S+\s+10\.213\.7\.[0-9]+\s+\S+\s+2g$" -- \
  "$K3DPP" node list "$server" -o wide --no-headers
complete_bash() {
  # bash with the completion script loaded; COMP_WORDS as bash sets them for "k3dpp $*".
  PATH=$(dirname "$K3DPP"):$PATH bash -c 'source <(k3dpp completion bash); COMP_WORDS=(k3dpp "$@"); COMP_CWORD=$#;
    _k3dpp; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
expect "bash completion: k3dpp cl -> cluster" '^cluster$' -- complete_bash cl
expect "bash completion: cluster names" "^$c$" -- complete_bash cluster delete "${c:0:8}"

run "cluster delete -c (metadata.name)" -- "$K3DPP" cluster delete -c "$cfg/docs_configfile_k3dpp.yaml"
expect "the containers are gone" '^$' -- docker ps -aq --filter "label=k3dpp.cluster=$c"
expect_fail "the network made for the cluster is gone" 'No such network|not found' -- docker network inspect "$c-net"

echo "config_file chapter took $((SECONDS - t0)) s"
e2e_summary
