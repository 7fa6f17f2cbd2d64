#!/usr/bin/env bash
# Chapter: multi-server (HA) clusters, as k3s does them with embedded etcd (issue 2).
#   cluster create --servers 3 --agents 1 → 4 nodes Ready, servers with ROLES control-plane,etcd,master;
#   an object created through the LB is the same (resourceVersion) on every server's own API; a
#   deployment runs; node stop of a server that is not the controller-manager leader, then of the
#   leader: kubectl through the LB keeps working, the Lease moves, the deployment self-heals;
#   node start → the server rejoins; node create --role server adds a 4th etcd member and node delete
#   removes it from etcd again;
#   cluster delete leaves nothing. Docker only (servers reached on their container IPs).
source "$(dirname "$0")/lib.sh"

e2e_new_cluster c ha
run "cluster create $c --servers 3 --agents 1" -- "$K3DPP" cluster create "$c" --servers 3 --agents 1 --timeout 600s
expect "cluster list: 3/3 servers, 1/1 agents" "^$c +3/3 +1/1 +true" -- "$K3DPP" cluster list
run "image import nginx:1.24" -- "$K3DPP" image import nginx:1.24 -c "$c"
eventually 90 2 "4 nodes Ready" "^4$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"
expect "servers have ROLES control-plane,etcd,master, the agent none" \
  "k3dpp-$c-agent-0 +Ready +<none>[\s\S]*k3dpp-$c-server-0 +Ready +control-plane,etcd,master[\s\S]*k3dpp-$c-server-1 +Ready +control-plane,etcd,master[\s\S]*k3dpp-$c-server-2 +Ready +control-plane,etcd,master" \
  -- kubectl get nodes

ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
# kubectl straight at one server's API (its container IP is in its serving certificate).
on_server() {
  local n=$1
  shift
  kubectl --server "https://$(ip_of "k3dpp-$c-server-$n"):6443" --request-timeout=20s "$@"
}

run "create a configmap through the LB" -- kubectl create configmap ha-cm --from-literal=k=v1
rv=$(kubectl get configmap ha-cm -o jsonpath='{.metadata.resourceVersion}')
for i in 0 1 2; do
  expect "server-$i's own API serves ha-cm at resourceVersion $rv" "^$rv:v1\$" -- \
    on_server "$i" get configmap ha-cm -o "jsonpath={.metadata.resourceVersion}:{.data.k}"
done
run "patch through server-2" -- on_server 2 patch configmap ha-cm -p '{"data":{"k":"v2"}}'
expect "server-0 sees server-2's write" "^v2\$" -- on_server 0 get configmap ha-cm -o 'jsonpath={.data.k}'

expect "create deployment web (3 replicas)" "deployment.apps/web created" -- \
  kubectl create deployment web --image=nginx:1.24 --replicas=3
eventually 90 2 "web: 3 pods Running" "^3$" -- bash -c "kubectl get pods -l app=web --no-headers | grep -c ' Running '"

leader() {
  kubectl get lease -n kube-system kube-controller-manager -o jsonpath='{.spec.holderIdentity}' | sed 's/_.*//'
}
eventually 30 2 "the kube-controller-manager Lease has a holder" "^k3dpp-$c-server-[0-2]\$" -- leader
L=$(leader)
expect "the kube-scheduler Lease has a holder" "^k3dpp-$c-server-[0-2]$" -- \
  kubectl get lease -n kube-system kube-scheduler -o jsonpath='{.spec.holderIdentity}'
O=k3dpp-$c-server-0
[ "$L" = "$O" ] && O=k3dpp-$c-server-1
echo "      leader $L, stopping $O first"

run "node stop $O (not the leader)" -- "$K3DPP" node stop "$O"
eventually 30 2 "kubectl through the LB works with $O stopped" "configmap/after-stop created" -- \
  kubectl create configmap after-stop --from-literal=a=b
expect "the leader did not change" "^$L\$" -- leader
run "node start $O" -- "$K3DPP" node start "$O"
eventually 90 2 "$O rejoined: its own API serves after-stop" "^b\$" -- \
  on_server "${O##*-}" get configmap after-stop -o 'jsonpath={.data.a}'
eventually 60 2 "4 nodes Ready again" "^4$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"

run "node stop $L (the leader)" -- "$K3DPP" node stop "$L"
eventually 45 2 "kubectl through the LB works with the leader stopped" "configmap/after-leader created" -- \
  kubectl create configmap after-leader --from-literal=a=b
eventually 45 2 "leadership moved away from $L" "^k3dpp-$c-server-[0-2]\$" -- \
  bash -c "h=\$(kubectl get lease -n kube-system kube-controller-manager -o jsonpath='{.spec.holderIdentity}' | sed 's/_.*//'); [ \"\$h\" != '$L' ] && echo \"\$h\""
# A pod on a running node (one on the stopped server would stay Terminating, as in Kubernetes).
victim=$(kubectl get pods -l app=web --no-headers -o custom-columns=N:.metadata.name,NODE:.spec.nodeName |
  awk -v l="$L" '$2 != l {print $1; exit}')
run "delete pod $victim (not on $L)" -- kubectl delete pod "$victim" --wait=false
eventually 90 2 "the deployment self-heals under the new leader: 3 other pods Running" "^3$" -- \
  bash -c "kubectl get pods -l app=web --no-headers | grep -v '^$victim ' | grep -c ' Running '"
run "node start $L" -- "$K3DPP" node start "$L"
eventually 90 2 "$L rejoined: its own API serves after-leader" "^b\$" -- \
  on_server "${L##*-}" get configmap after-leader -o 'jsonpath={.data.a}'

run "node create extra --role server" -- "$K3DPP" node create "extra-$E2E_RUN_ID" --role server --cluster "$c" --timeout 300s
eventually 60 2 "the new server is Ready with ROLES control-plane,etcd,master" \
  "k3dpp-extra-$E2E_RUN_ID-0 +Ready +control-plane,etcd,master" -- kubectl get nodes
expect "it joined as the 4th etcd member (promoted to a voter)" "etcd: member k3dpp-extra-$E2E_RUN_ID-0 promoted to a voting member" -- \
  docker logs "k3dpp-extra-$E2E_RUN_ID-0"
expect "cluster list: 4/4 servers" "^$c +4/4 +1/1 +true" -- "$K3DPP" cluster list
expect "node delete of a server removes its etcd member first" "Removed etcd member 'k3dpp-extra-$E2E_RUN_ID-0'" -- \
  "$K3DPP" node delete "k3dpp-extra-$E2E_RUN_ID-0"
expect_fail "it is no longer an etcd member" "no etcd member named k3dpp-extra-$E2E_RUN_ID-0" -- \
  docker exec "k3dpp-$c-server-0" k3dpp-node etcd-member-remove "k3dpp-extra-$E2E_RUN_ID-0"
expect "the three servers still serve through the LB: cluster list 3/3" "^$c +3/3 +1/1 +true" -- "$K3DPP" cluster list
eventually 30 2 "writes still commit (quorum of the 3 remaining members)" "created" -- \
  kubectl create configmap after-extra --from-literal=a=c

run "cluster delete $c" -- "$K3DPP" cluster delete "$c"
expect "no container, volume or network of $c is left" "^0$" -- \
  bash -c "{ docker ps -a --format '{{.Names}}'; docker volume ls --format '{{.Name}}'; docker network ls --format '{{.Name}}'; } | grep -cE 'k3dpp-($c|extra-$E2E_RUN_ID)' || true"
e2e_summary
