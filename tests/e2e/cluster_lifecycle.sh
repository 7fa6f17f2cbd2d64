#!/usr/bin/env bash
# Chapter: cluster and node lifecycle on the Docker engine (issue 2).
# create (1 server, 1 agent, -p 30050 on server-0) -> nodes Ready through the LB -> list ->
# node create -> stop/start -> delete -> nothing left behind. Plus bad input leaves nothing.
source "$(dirname "$0")/lib.sh"

e2e_new_cluster c life
ctx=k3dpp-$c
port=$((30600 + RANDOM % 300))   # the course uses 30050; a random one keeps a user's own cluster out of the way

run "cluster create $c --servers 1 --agents 1 -p $port:$port@server:0" -- \
  "$K3DPP" cluster create "$c" --servers 1 --agents 1 -p "$port:$port@server:0"
expect "progress names the steps" "Cluster '$c' created successfully" -- echo "$E2E_LAST_OUT"

expect "exactly server-0, agent-0 and serverlb containers" \
  "^k3dpp-$c-agent-0 k3dpp-$c-server-0 k3dpp-$c-serverlb \$" -- \
  bash -c "docker ps --filter label=k3dpp.cluster=$c --format '{{.Names}}' | sort | tr '\n' ' '"
expect "network k3dpp-$c exists" "^k3dpp-$c\$" -- docker network ls --filter "name=^k3dpp-$c\$" --format '{{.Name}}'
expect "host port $port is published on the serverlb" "$port->$port/tcp" -- \
  docker ps --filter "name=^k3dpp-$c-serverlb\$" --format '{{.Ports}}'
expect "no container runs privileged" "^false false false\$" -- bash -c \
  "docker inspect -f '{{.HostConfig.Privileged}}' k3dpp-$c-server-0 k3dpp-$c-agent-0 k3dpp-$c-serverlb | tr '\n' ' ' | sed 's/ \$//'"

expect "kubeconfig has context $ctx and is current" "^$ctx\$" -- kubectl config current-context
expect "kubeconfig file is mode 0600" "^600\$" -- stat -c %a "$KUBECONFIG"
expect "kubeconfig user is admin@$ctx" "admin@$ctx" -- kubectl config view -o jsonpath='{.contexts[0].context.user}'
expect "kubectl version answers through the LB (server minor 32)" "Server Version: v1\.32" -- kubectl version
eventually 60 2 "kubectl get nodes: both Ready, roles as k3s" \
  "k3dpp-$c-agent-0 +Ready +<none> .*k3dpp-$c-server-0 +Ready +control-plane,master" -- \
  bash -c "kubectl get nodes --no-headers | sort | tr '\n' ' '"
expect "get nodes header" "^NAME +STATUS +ROLES +AGE +VERSION" -- kubectl get nodes

expect "cluster list shows 1/1 servers, 1/1 agents, LB" "^$c +1/1 +1/1 +true" -- "$K3DPP" cluster list
expect "cluster list -o json" "\"name\": *\"$c\"" -- "$K3DPP" cluster list -o json

expect_fail "duplicate cluster is refused" "already exists" -- "$K3DPP" cluster create "$c"

# cluster logs (issue 8): each container's log under a header, containerd's log file of the nodes.
expect "cluster logs: server header and the entrypoint's start line" \
  "===== k3dpp-$c-server-0 \(server, running\) =====.*k3dpp-entrypoint: containerd ready" -- \
  bash -c "'$K3DPP' cluster logs '$c' | tr '\n' ' '"
expect "cluster logs: agent, serverlb and containerd sections" \
  "===== k3dpp-$c-agent-0 \(agent, running\) =====.*===== k3dpp-$c-serverlb \(loadbalancer, running\) =====" -- \
  bash -c "'$K3DPP' cluster logs '$c' --tail 5 | grep '^=====' | tr '\n' ' '"
expect "cluster logs: containerd log of server-0 included" \
  "^===== k3dpp-$c-server-0 containerd \(/var/log/containerd.log\) =====\$" -- "$K3DPP" cluster logs "$c" --tail 1
expect "cluster logs --tail 2: at most 2 lines per section" "^ok\$" -- bash -c \
  "'$K3DPP' cluster logs '$c' --tail 2 | awk '/^=====/{n=0;next} {n++; if (n>2) bad=1} END{print bad?\"too many\":\"ok\"}'"
logdir=$(mktemp -d /tmp/e2e-logs-XXXXXX)
expect "cluster logs --output-dir prints the directory" "^$logdir/out\$" -- "$K3DPP" cluster logs "$c" --output-dir "$logdir/out"
expect "--output-dir wrote one file per container and containerd's logs" \
  "^k3dpp-$c-agent-0-containerd.log k3dpp-$c-agent-0.log k3dpp-$c-server-0-containerd.log k3dpp-$c-server-0.log k3dpp-$c-serverlb.log \$" -- \
  bash -c "ls '$logdir/out' | sort | tr '\n' ' '"
expect "the server's file holds its log" "k3dpp-entrypoint: containerd ready" -- cat "$logdir/out/k3dpp-$c-server-0.log"
rm -rf "$logdir"
expect_fail "cluster logs of an unknown cluster" "^ERROR: cluster 'nosuch-$c' not found\$" -- "$K3DPP" cluster logs "nosuch-$c"

e2e_new_cluster na extra   # only a name source; node create makes k3dpp-$na-0
run "node create $na --role agent --cluster $c" -- "$K3DPP" node create "$na" --role agent --cluster "$c"
eventually 60 2 "the new agent node is Ready" "k3dpp-$na-0 +Ready" -- kubectl get nodes
expect "cluster list counts 2 agents" "^$c +1/1 +2/2 +true" -- "$K3DPP" cluster list

run "cluster stop" -- "$K3DPP" cluster stop "$c"
expect "stopped: no running containers" "^0\$" -- bash -c "docker ps -q --filter label=k3dpp.cluster=$c | wc -l"
run "cluster start" -- "$K3DPP" cluster start "$c"
eventually 60 2 "after start, all nodes Ready again" "^3\$" -- \
  bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"

run "cluster delete" -- "$K3DPP" cluster delete "$c"
expect "no containers left" "^0\$" -- bash -c "docker ps -aq --filter label=k3dpp.cluster=$c | wc -l"
expect "no volumes left" "^0\$" -- bash -c "docker volume ls -q --filter label=k3dpp.cluster=$c | wc -l"
expect "no network left" "^0\$" -- bash -c "docker network ls -q --filter name=^k3dpp-$c\$ | wc -l"
expect_fail "no kubeconfig context left" "not found|no context" -- kubectl config get-contexts "$ctx"

# Bad input: one clear error line, non-zero exit, nothing created.
e2e_new_cluster b bad
expect_fail "malformed -p is refused" "ERROR" -- "$K3DPP" cluster create "$b" -p 'abc:def@server:0'
expect_fail "port out of range is refused" "ERROR" -- "$K3DPP" cluster create "$b" -p '70000:80@server:0'
expect_fail "node filter matching nothing is refused" "ERROR" -- "$K3DPP" cluster create "$b" -p '8081:80@agent:3'
expect_fail "invalid cluster name is refused" "ERROR" -- "$K3DPP" cluster create 'Bad_Name'
expect_fail "more than 99 servers is refused" "^ERROR: --servers: .*not in range 1 to 99" -- \
  "$K3DPP" cluster create "$b" --servers 100
expect "bad input left nothing behind" "^0\$" -- bash -c \
  "{ docker ps -aq --filter label=k3dpp.cluster=$b; docker network ls -q --filter name=^k3dpp-$b\$; } | wc -l"

e2e_summary
