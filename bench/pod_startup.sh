#!/usr/bin/env bash
# Pod start-up on a 1 server + 1 agent cluster (both schedulable): `kubectl apply` of N busybox pods
# (image imported, imagePullPolicy IfNotPresent) until all are Ready, and per pod create → Running
# p50/p99 two ways: from a watch (`kubectl get pods -w`, each line stamped by
# this script as it arrives: first ADDED → first event with phase Running, sub-second) and from the
# API's timestamps (creationTimestamp → container startedAt, 1 s resolution). The floor: `ctr -n
# k8s.io run -d` of the same image inside the agent node container, timed there per container over
# sequential runs (create + start, no sandbox/CNI), and the ratio. CPU seconds the node containers
# (and the agent's k3dpp-node alone; containerd itself, its reaped children = CNI plugins + shim
# start, and the shims' reaped children = the OCI runtime) spent on the start-up. The floors use
# the OCI runtime the pods get (containerd's BinaryName, runc when unset). Memory (VmRSS) of k3dpp-node,
# containerd and the runc shims, idle, with N pods, and of the agent's k3dpp-node with exactly
# AGENT_PODS pods on the agent. Figures only. Env: POD_BENCH_N (50), POD_BENCH_FLOOR_RUNS (10),
# POD_BENCH_AGENT_PODS (20), POD_BENCH_CLUSTER (the cluster name; default bench-podstart-<random>). Bounded: 180 s for the pods, ~3-4 min in all.
set -euo pipefail
: "${K3DPP:?}"
n=${POD_BENCH_N:-50}
floor_runs=${POD_BENCH_FLOOR_RUNS:-10}
agent_pods=${POD_BENCH_AGENT_PODS:-20}
name=${POD_BENCH_CLUSTER:-bench-podstart-$RANDOM}
export KUBECONFIG=$(mktemp /tmp/k3dpp-bench-kc-XXXXXX)
work=$(mktemp -d /tmp/k3dpp-bench-pods-XXXXXX)
watch_pid=
cleanup() {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null || true
  "$K3DPP" cluster delete "$name" >/dev/null 2>&1 || true
  rm -rf "$KUBECONFIG" "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
# pct FILE: "p50 p99 count" of the numbers (one a line) in FILE, nearest-rank.
pct() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (!NR) { print "NA NA 0"; exit }
    i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
    printf "%s %s %d\n", v[i50], v[i99], NR }'
}

echo "creating $name (1 server, 1 agent)" >&2
"$K3DPP" cluster create "$name" --servers 1 --agents 1 >&2
"$K3DPP" image import busybox:latest -c "$name" >&2
server=k3dpp-$name-server-0
agent=k3dpp-$name-agent-0

# rss NODE PROCESS [FIELD]: FIELD (VmRSS; or RssAnon, RssFile) in MiB of the processes named
# PROCESS in a node container (summed).
rss() {
  docker exec "$1" sh -c "for d in /proc/[0-9]*; do
      [ \"\$(cat \$d/comm 2>/dev/null)\" = '$2' ] && sed -n 's/^${3:-VmRSS}:[^0-9]*\([0-9]*\).*/\1/p' \$d/status
    done; true" 2>/dev/null | awk '{s += $1} END {if (NR) printf "%.1f", s / 1024; else print "NA"}'
}
# cpu_ms NODE: CPU time (ms) used so far by everything in the node container (its cgroup holds
# containerd, the shims, runc, CNI plugins, k3dpp-node and the pods).
cpu_ms() {
  docker exec "$1" sh -c 'if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
      echo $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage) / 1000000 ))
    else awk "/^usage_usec/ { print int(\$2 / 1000) }" /sys/fs/cgroup/cpu.stat; fi' 2>/dev/null || echo NA
}
# proc_cpu_ms NODE PROCESS: CPU time (ms, utime + stime) of the processes named PROCESS.
proc_cpu_ms() {
  docker exec "$1" sh -c "for d in /proc/[0-9]*; do
      [ \"\$(cat \$d/comm 2>/dev/null)\" = '$2' ] && cut -d' ' -f14,15 \$d/stat
    done; true" 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{s += $1 + $2} END {if (NR) printf "%d", s * 1000 / hz; else print "NA"}'
}
# proc_child_cpu_ms NODE PROCESS: CPU time (ms) of the reaped children of the processes named
# PROCESS: for containerd the CNI plugins and `containerd-shim-runc-v2 start`, for the shims the
# OCI runtime (runc or crun create/start/kill/delete).
proc_child_cpu_ms() {
  docker exec "$1" sh -c "for d in /proc/[0-9]*; do
      [ \"\$(cat \$d/comm 2>/dev/null)\" = '$2' ] && cut -d' ' -f16,17 \$d/stat
    done; true" 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{s += $1 + $2} END {if (NR) printf "%d", s * 1000 / hz; else print "0"}'
}
report_rss() { # $1 = when (idle|podsN)
  if [ "$1" != idle ]; then
    printf 'FIGURE pods.rss.%s.agent.shims %s MiB containerd-shim-runc-v2, all pods of the agent\n' "$1" \
      "$(rss "$agent" containerd-shim)"
  fi
  printf 'FIGURE pods.rss.%s.server.k3dpp-node %s MiB server, controllers+apiserver+kubelet\n' "$1" "$(rss "$server" k3dpp-node)"
  printf 'FIGURE pods.rss.%s.agent.k3dpp-node %s MiB agent, kubelet+proxy+dns\n' "$1" "$(rss "$agent" k3dpp-node)"
  printf 'FIGURE pods.rss.%s.agent.k3dpp-node.anon %s MiB of it anonymous (heap, stacks)\n' "$1" "$(rss "$agent" k3dpp-node RssAnon)"
  printf 'FIGURE pods.rss.%s.server.containerd %s MiB\n' "$1" "$(rss "$server" containerd)"
  printf 'FIGURE pods.rss.%s.agent.containerd %s MiB\n' "$1" "$(rss "$agent" containerd)"
}
sleep 5  # let the nodes settle after start-up before the idle figures
report_rss idle

# The floor: the same image started bare by containerd in the agent node container, one after the
# other; each run is `ctr run -d` (snapshot + create + start, returns once the task runs), timed
# inside the container so no docker exec is counted; the container is removed after each run.
image_ref=$(docker exec "$agent" ctr -n k8s.io images ls -q | grep -m1 'busybox:latest' || true)
# The floor runs on the OCI runtime the pods get: containerd's runc options may name another
# binary (BinaryName, e.g. crun); `ctr run` would use runc otherwise.
oci_bin=$(docker exec "$agent" sh -c "sed -n 's/^ *BinaryName *= *\"\\(.*\\)\"/\\1/p' /etc/containerd/config.toml" 2>/dev/null | head -1)
ctr_rt=${oci_bin:+--runc-binary $oci_bin}
echo "OCI runtime of the pods: ${oci_bin:-runc}" >&2
if [ -n "$image_ref" ]; then
  docker exec "$agent" bash -c '
    for i in $(seq 1 '"$floor_runs"'); do
      t0=$(date +%s%N)
      ctr -n k8s.io run '"$ctr_rt"' -d '"$image_ref"' bench-floor-$i sleep 3600 >/dev/null || { echo NA; continue; }
      t1=$(date +%s%N)
      echo $(( (t1 - t0) / 1000000 ))
      ctr -n k8s.io task kill -s KILL bench-floor-$i >/dev/null 2>&1
      for _ in $(seq 1 50); do ctr -n k8s.io task rm bench-floor-$i >/dev/null 2>&1 && break; sleep 0.1; done
      ctr -n k8s.io containers rm bench-floor-$i >/dev/null 2>&1 || true
    done' | grep -v NA >"$work/floor" || true
else
  echo "busybox:latest not found in the agent's containerd" >&2
  : >"$work/floor"
fi
read -r floor_p50 floor_p99 floor_count < <(pct "$work/floor")
printf 'FIGURE pods.startup.floor.ctr_run.p50 %s ms ctr -n k8s.io run -d busybox in the agent node, %d sequential runs, %s\n' "$floor_p50" "$floor_count" "${oci_bin:-runc}"
printf 'FIGURE pods.startup.floor.ctr_run.p99 %s ms\n' "$floor_p99"

# ctr_burst NODE NAME: starts $par bare `ctr run -d` at once in NODE, prints the ms until the last
# one runs (timed in the node), then removes them.
ctr_burst() {
  docker exec "$1" bash -c '
    t0=$(date +%s%N)
    for i in $(seq 1 '"$par"'); do ctr -n k8s.io run '"$ctr_rt"' -d '"$image_ref"' '"$2"'-$i sleep 3600 >/dev/null 2>&1 & done
    wait
    echo $(( ($(date +%s%N) - t0) / 1000000 ))
    for i in $(seq 1 '"$par"'); do ctr -n k8s.io task kill -s KILL '"$2"'-$i >/dev/null 2>&1 & done; wait
    for i in $(seq 1 '"$par"'); do
      for _ in $(seq 1 50); do ctr -n k8s.io task rm '"$2"'-$i >/dev/null 2>&1 && break; sleep 0.1; done
      ctr -n k8s.io containers rm '"$2"'-$i >/dev/null 2>&1 || true
    done' 2>/dev/null | head -1
}

# The burst floor: as many bare `ctr run -d` at once in the agent node as the agent gets pods
# (n/2), until the last one runs. Each pod costs the runtime more than that (a pause container, a
# shim and the CNI plugins as well), so the kubelet's p99 cannot be below this on the same machine.
par=$(( (n + 1) / 2 ))
burst_ms=NA
if [ -n "$image_ref" ]; then
  burst_ms=$(ctr_burst "$agent" bench-burst) || burst_ms=NA
fi
printf 'FIGURE pods.startup.floor.ctr_run_burst%d %s ms %d x ctr run -d at once in the agent node, until the last runs\n' \
  "$par" "${burst_ms:-NA}" "$par"

# The same burst in both nodes at once (n bare containers on the machine's cores, as the pods
# are): each node times its own n/2 in-node; the figure is the slower node's.
burst_both_ms=NA
if [ -n "$image_ref" ]; then
  ctr_burst "$server" bench-both >"$work/both-server" & p_server=$!
  ctr_burst "$agent" bench-both >"$work/both-agent" & p_agent=$!
  wait "$p_server" "$p_agent" || true
  burst_both_ms=$(cat "$work/both-server" "$work/both-agent" | awk '$1 ~ /^[0-9]+$/ { n++; if ($1 > m) m = $1 } END { print (n == 2 ? m : "NA") }')
fi
printf 'FIGURE pods.startup.floor.ctr_run_burst_both_nodes %s ms %d x ctr run -d at once in each of the 2 nodes (%d in all), until the last runs\n' \
  "${burst_both_ms:-NA}" "$par" "$((2 * par))"

for i in $(seq 1 "$n"); do
  cat <<YAML
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-$i
  labels: {app: bench}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
YAML
done >"$work/pods.yaml"

# The watch: every line stamped with the time this script read it.
kubectl get pods -l app=bench -w --no-headers \
  -o custom-columns=NAME:.metadata.name,PHASE:.status.phase,NODE:.spec.nodeName 2>/dev/null \
  > >(while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >"$work/watch") &
watch_pid=$!  # kubectl itself
sleep 2  # the watch is open before the first create

echo "apply $n pods" >&2
cpu0_agent=$(cpu_ms "$agent"); cpu0_server=$(cpu_ms "$server"); kn0=$(proc_cpu_ms "$agent" k3dpp-node)
cd0=$(proc_cpu_ms "$agent" containerd); cdc0=$(proc_child_cpu_ms "$agent" containerd); shc0=$(proc_child_cpu_ms "$agent" containerd-shim)
t0=$(now)
kubectl apply -f "$work/pods.yaml" >/dev/null
kubectl wait --for=condition=Ready pod -l app=bench --timeout=180s >/dev/null
all_ready=$(since "$t0")
cpu1_agent=$(cpu_ms "$agent"); cpu1_server=$(cpu_ms "$server"); kn1=$(proc_cpu_ms "$agent" k3dpp-node)
cd1=$(proc_cpu_ms "$agent" containerd); cdc1=$(proc_child_cpu_ms "$agent" containerd); shc1=$(proc_child_cpu_ms "$agent" containerd-shim)
printf 'FIGURE pods.startup.%d.all_ready %s s apply of %d pods until all Ready (1+1 nodes)\n' "$n" "$all_ready" "$n"
# Where the CPU went during the start-up: whole node containers, and the agent's k3dpp-node alone
# (the rest of the agent: containerd, shims, runc, CNI plugins). Load of the host: /proc/loadavg.
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA") print "NA"; else printf "%.2f", (b - a) / 1000 }'; }
printf 'FIGURE pods.startup.%d.cpu.agent_node %s s CPU of the agent node container until all Ready (host load %s)\n' \
  "$n" "$(diff_s "$cpu0_agent" "$cpu1_agent")" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'FIGURE pods.startup.%d.cpu.agent_k3dpp_node %s s of it the agent k3dpp-node (kubelet, proxy, dns)\n' \
  "$n" "$(diff_s "$kn0" "$kn1")"
printf 'FIGURE pods.startup.%d.cpu.agent_containerd %s s of it containerd itself (CRI)\n' "$n" "$(diff_s "$cd0" "$cd1")"
printf 'FIGURE pods.startup.%d.cpu.agent_cni_and_shim_start %s s of it containerd'"'"'s children: CNI plugins, shim start\n' \
  "$n" "$(diff_s "$cdc0" "$cdc1")"
printf 'FIGURE pods.startup.%d.cpu.agent_oci_runtime %s s of it the OCI runtime (%s create/start, reaped by the shims)\n' \
  "$n" "$(diff_s "$shc0" "$shc1")" "${oci_bin:-runc}"
printf 'FIGURE pods.startup.%d.cpu.server_node %s s CPU of the server node container (API server, controllers, its pods)\n' \
  "$n" "$(diff_s "$cpu0_server" "$cpu1_server")"
sleep 1
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
sleep 0.5  # the stamping loop drains
echo "watch: $(wc -l <"$work/watch") lines, first: $(head -1 "$work/watch")" >&2

# Watch: per pod, its first line (the ADDED event: the watch was open before any create) → its
# first line whose phase is Running, in ms. (--output-watch-events is not used: with
# custom-columns kubectl 1.32 then prints <none> for every column.)
awk '!($2 in add) { add[$2] = $1 }
     $3 == "Running" && !($2 in run) { run[$2] = $1 }
     END { for (p in run) if (p in add) printf "%.0f\n", (run[p] - add[p]) * 1000 }' \
  "$work/watch" >"$work/watch_ms"
read -r w_p50 w_p99 w_count < <(pct "$work/watch_ms")
ratio=$(awk -v a="$w_p50" -v b="$floor_p50" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.1f", a / b }')
printf 'FIGURE pods.startup.%d.watch.p50 %s ms create->Running seen by a watch, %d pods\n' "$n" "$w_p50" "$w_count"
printf 'FIGURE pods.startup.%d.watch.p99 %s ms target p99 < 1500 ms (upstream SLO 5 s)\n' "$n" "$w_p99"
printf 'FIGURE pods.startup.%d.ratio_to_floor %s x watch p50 / ctr run p50\n' "$n" "$ratio"
ratio_b=$(awk -v a="$w_p99" -v b="$burst_ms" 'BEGIN { if (a == "NA" || b == "NA" || b == "" || b == 0) print "NA"; else printf "%.1f", a / b }')
printf 'FIGURE pods.startup.%d.ratio_to_burst_floor %s x watch p99 / the burst floor\n' "$n" "$ratio_b"
ratio_bb=$(awk -v a="$w_p99" -v b="$burst_both_ms" 'BEGIN { if (a == "NA" || b == "NA" || b == "" || b == 0) print "NA"; else printf "%.1f", a / b }')
printf 'FIGURE pods.startup.%d.ratio_to_burst_floor_both_nodes %s x watch p99 / the burst floor of both nodes at once\n' "$n" "$ratio_bb"
# The split: create → bound (the scheduler; first line with a node) and bound → Running (the
# kubelet, its status patch and the watch delivering it).
awk '!($2 in add) { add[$2] = $1 }
     $4 != "<none>" && $4 != "" && !($2 in bound) { bound[$2] = $1 }
     $3 == "Running" && !($2 in run) { run[$2] = $1 }
     END { for (p in run) if ((p in add) && (p in bound))
             printf "%.0f %.0f\n", (bound[p] - add[p]) * 1000, (run[p] - bound[p]) * 1000 }' \
  "$work/watch" >"$work/watch_split"
cut -d' ' -f1 "$work/watch_split" >"$work/watch_bound"
cut -d' ' -f2 "$work/watch_split" >"$work/watch_bound_run"
read -r b_p50 b_p99 b_count < <(pct "$work/watch_bound")
read -r r_p50 r_p99 _ < <(pct "$work/watch_bound_run")
printf 'FIGURE pods.startup.%d.watch.bound.p50 %s ms create->bound (scheduler), %d pods\n' "$n" "$b_p50" "$b_count"
printf 'FIGURE pods.startup.%d.watch.bound.p99 %s ms\n' "$n" "$b_p99"
printf 'FIGURE pods.startup.%d.watch.bound_to_running.p50 %s ms bound->Running (kubelet + status + watch)\n' "$n" "$r_p50"
printf 'FIGURE pods.startup.%d.watch.bound_to_running.p99 %s ms\n' "$n" "$r_p99"

# The kubelets' own view (k3dpp-node logs one line per pod with its first Running status:
# "start-up total 812 ms: relist 0, list 1, sandbox 420, ..., status 30)", from the moment its
# worker saw the pod): p50/p99 of the total and of the main steps (sandbox = RunPodSandbox with
# CNI; create/start = CreateContainer/StartContainer; env = resolving the environment, incl. the
# namespace's services; status = the pods/status patch). NA when the image has no such lines.
for node in "$server" "$agent"; do docker logs "$node" 2>&1 | grep -o 'start-up total .*' || true; done |
  sed -e 's/^start-up total \([0-9]*\) ms: /total \1, /' -e 's/)$//' >"$work/trace"
for step in total sandbox create start env status; do
  tr ',' '\n' <"$work/trace" | awk -v s="$step" '$1 == s { print $2 }' >"$work/trace_$step"
  read -r t_p50 t_p99 t_count < <(pct "$work/trace_$step")
  printf 'FIGURE pods.startup.%d.kubelet.%s.p50 %s ms kubelet-side, %d pods\n' "$n" "$step" "$t_p50" "$t_count"
  printf 'FIGURE pods.startup.%d.kubelet.%s.p99 %s ms\n' "$n" "$step" "$t_p99"
done

# API timestamps: creationTimestamp → the container's state.running.startedAt (1 s resolution).
kubectl get pods -l app=bench -o jsonpath='{range .items[*]}{.metadata.creationTimestamp} {.status.containerStatuses[0].state.running.startedAt} {.spec.nodeName}{"\n"}{end}' >"$work/api"
while read -r created started node; do
  [ -n "$started" ] && echo $(( $(date -d "$started" +%s) - $(date -d "$created" +%s) ))
done <"$work/api" >"$work/api_s"
read -r a_p50 a_p99 a_count < <(pct "$work/api_s")
spread=$(awk '{ c[$3]++ } END { for (k in c) printf "%s=%d ", k, c[k] }' "$work/api" | sed "s/k3dpp-$name-//g")
printf 'FIGURE pods.startup.%d.api.p50 %s s creationTimestamp->startedAt (1 s resolution), %s\n' "$n" "$a_p50" "$spread"
printf 'FIGURE pods.startup.%d.api.p99 %s s\n' "$n" "$a_p99"
sleep 2
report_rss "pods$n"

# The agent with exactly $agent_pods pods: delete the agent's surplus pods, then measure.
mapfile -t on_agent < <(kubectl get pods -l app=bench --field-selector spec.nodeName="$agent" \
  -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
if [ "${#on_agent[@]}" -gt "$agent_pods" ]; then
  kubectl delete pod --wait=true "${on_agent[@]:$agent_pods}" >/dev/null
fi
sleep 3
have=$(kubectl get pods -l app=bench --field-selector spec.nodeName="$agent" --no-headers 2>/dev/null | grep -c Running || true)
printf 'FIGURE pods.rss.agent%d.agent.k3dpp-node %s MiB agent k3dpp-node with %s Running pods, target < 30 MiB\n' \
  "$agent_pods" "$(rss "$agent" k3dpp-node)" "$have"
printf 'FIGURE pods.rss.agent%d.agent.k3dpp-node.anon %s MiB of it anonymous (heap, stacks)\n' \
  "$agent_pods" "$(rss "$agent" k3dpp-node RssAnon)"
printf 'FIGURE pods.rss.agent%d.agent.k3dpp-node.file %s MiB of it file pages (binary, shared libraries)\n' \
  "$agent_pods" "$(rss "$agent" k3dpp-node RssFile)"

echo "delete the pods" >&2
t1=$(now)
kubectl delete pods -l app=bench --wait=true >/dev/null
printf 'FIGURE pods.delete.all_gone %s s delete of the remaining pods (grace 1 s) until all gone\n' "$(since "$t1")"
