#!/usr/bin/env bash
# Chapter: course 11.9 Deployments (course-commands.md steps 42–60) on a real cluster (1 server +
# 1 agent, then `k3dpp node create` adds a second agent): dep.yaml (create, names, self-healing,
# scaling by apply, cascading delete), dep-rolling.yaml (10 replicas, minReadySeconds 10, surge 1 /
# unavailable 1): rolling update with `kubectl rollout status`, a sampler that checks at most 11
# pods and at least 9 available, rollout history, undo, get rs, the declarative steps 58–60, and
# rollout pause/resume. Needs the workload images (images/build-workloads.sh).
source "$(dirname "$0")/lib.sh"

e2e_new_cluster c deploy
agent2="e2e-deploy-agent2-$E2E_RUN_ID"
agent2_ctr="k3dpp-$agent2-0"
alphabet='bcdfghjklmnpqrstvwxz2456789'
hist_out() { kubectl rollout history deployment nginx-deployment | sed 's/ *$//; s/  */ /g' | grep . | paste -sd'|'; }
# "<hash> <n>" per ReplicaSet template hash of the non-terminating pods.
pod_hashes() {
  kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.metadata.labels.pod-template-hash} {.metadata.deletionTimestamp}{"\n"}{end}' |
    awk '$2 == "" {n[$1]++} END {for (h in n) print h, n[h]}' | sort
}

# --- 42: a fresh cluster with one agent --------------------------------------------------------
run "cluster create $c --agents 1" -- "$K3DPP" cluster create "$c" --agents 1
expect "cluster list shows $c 1/1 1/1" "^$c +1/1 +1/1 +true" -- "$K3DPP" cluster list
run "image import nginx:latest nginx:1.24 nginx:1.26" -- \
  "$K3DPP" image import nginx:latest nginx:1.24 nginx:1.26 -c "$c"
eventually 60 2 "both nodes Ready" "^2\$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"

# --- 43–44: dep.yaml ---------------------------------------------------------------------------
cat >"$E2E_TMP/dep.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        ports:
        - containerPort: 80
YAML
expect "apply dep.yaml" "^deployment.apps/nginx-deployment created\$" -- kubectl apply -f "$E2E_TMP/dep.yaml"
expect "get deployment header" "^NAME +READY +UP-TO-DATE +AVAILABLE +AGE\$" -- kubectl get deployment nginx-deployment
eventually 60 3 "get deployment 2/2 2 2" "^nginx-deployment +2/2 +2 +2 +[0-9]+[sm]" -- \
  kubectl get deployment nginx-deployment --no-headers
pods=$(kubectl get pods --no-headers -o custom-columns=N:.metadata.name | sort)
expect "two pods named <deploy>-<hash>-<5 chars>" \
  "^nginx-deployment-([$alphabet]{1,10})-[$alphabet]{5}\|nginx-deployment-([$alphabet]{1,10})-[$alphabet]{5}\$" -- \
  bash -c "echo '$pods' | paste -sd'|'"
hash1=$(kubectl get rs -l app=nginx -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
expect "the pods carry the ReplicaSet's hash" "^nginx-deployment-$hash1-[$alphabet]{5}\|nginx-deployment-$hash1-[$alphabet]{5}\$" -- \
  bash -c "echo '$pods' | paste -sd'|'"
expect "the two replicas run on both nodes" "^2\$" -- \
  bash -c "kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}' | sort -u | grep -c ."

# --- 45: self-healing --------------------------------------------------------------------------
victim=$(head -n1 <<<"$pods")
expect "delete pod $victim" "^pod \"$victim\" deleted\$" -- kubectl delete pod "$victim"
eventually 60 2 "a replacement with the same hash runs, the deleted one is gone" \
  "^2 Running; 0 victim; hashes $hash1\$" -- bash -c \
  "echo \"\$(kubectl get pods --no-headers | grep -c ' 1/1 *Running ') Running; \$(kubectl get pods --no-headers | grep -c '^$victim ') victim; hashes \$(kubectl get pods -o jsonpath='{.items[*].metadata.labels.pod-template-hash}' | tr ' ' '\n' | sort -u | paste -sd,)\""

# --- 46: scaling by apply ----------------------------------------------------------------------
sed -i 's/replicas: 2/replicas: 6/' "$E2E_TMP/dep.yaml"
expect "apply replicas: 6" "^deployment.apps/nginx-deployment configured\$" -- kubectl apply -f "$E2E_TMP/dep.yaml"
eventually 60 3 "get deployment 6/6 6 6" "^nginx-deployment +6/6 +6 +6 " -- kubectl get deployment nginx-deployment --no-headers
expect "six pods, all of the same ReplicaSet" "^$hash1 6\$" -- pod_hashes
expect "one ReplicaSet, still revision 1 (no rollout)" "^nginx-deployment-$hash1 1\$" -- \
  kubectl get rs -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.annotations.deployment\.kubernetes\.io/revision}{"\n"}{end}'

# --- 47: cascading delete ----------------------------------------------------------------------
expect "delete deployment" "^deployment.apps \"nginx-deployment\" deleted\$" -- kubectl delete deployment nginx-deployment
expect "get deployment: none left" "^No resources found in default namespace.\$" -- kubectl get deployment
eventually 60 2 "get pods: the pods went with it" "^No resources found in default namespace.\$" -- kubectl get pods
expect "and its ReplicaSet" "^No resources found in default namespace.\$" -- kubectl get rs

# --- 48: apply again, delete -f ----------------------------------------------------------------
expect "apply dep.yaml again" "^deployment.apps/nginx-deployment created\$" -- kubectl apply -f "$E2E_TMP/dep.yaml"
eventually 60 3 "get deployment 6/6 6 6" "^nginx-deployment +6/6 +6 +6 " -- kubectl get deployment nginx-deployment --no-headers
expect "delete -f dep.yaml" "^deployment.apps \"nginx-deployment\" deleted\$" -- kubectl delete -f "$E2E_TMP/dep.yaml"
eventually 60 2 "pods gone" "^No resources found in default namespace.\$" -- kubectl get pods

# --- 49: a second agent ------------------------------------------------------------------------
expect "node create $agent2 --role agent --cluster $c" \
  "Adding 1 node\(s\) to the runtime local cluster '$c'\.\.\..*Starting node '$agent2_ctr'.*Successfully created 1 node\(s\)!" -- \
  bash -c "'$K3DPP' node create '$agent2' --role agent --cluster '$c' 2>&1 | paste -sd' '"
expect "cluster list shows 1/1 2/2" "^$c +1/1 +2/2 +true" -- "$K3DPP" cluster list
expect "node list shows the new agent in $c" "^$agent2_ctr +agent +$c +running" -- "$K3DPP" node list
eventually 60 2 "three nodes Ready" "^3\$" -- bash -c "kubectl get nodes --no-headers | grep -c ' Ready '"
run "image import again (reaches the added node)" -- "$K3DPP" image import nginx:latest nginx:1.24 nginx:1.26 -c "$c"
expect "the added node has nginx:1.24 and nginx:1.26" "nginx:1\.24.*nginx:1\.26" -- \
  bash -c "docker exec '$agent2_ctr' ctr -n k8s.io images ls -q | grep -E 'nginx:1\.2[46]\$' | sort | paste -sd' '"

# --- 50: dep-rolling.yaml ----------------------------------------------------------------------
write_rolling() {  # IMAGE CAUSE
  cat >"$E2E_TMP/dep-rolling.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
  annotations:
    kubernetes.io/change-cause: "$2"
spec:
  replicas: 10
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 300
  minReadySeconds: 10
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
      maxSurge: 1
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: $1
        ports:
        - containerPort: 80
YAML
}
write_rolling nginx:1.24 "Initial release"
expect "apply dep-rolling.yaml" "^deployment.apps/nginx-deployment created\$" -- kubectl apply -f "$E2E_TMP/dep-rolling.yaml"
eventually 90 2 "get deployment 10/10 10 10" "^nginx-deployment +10/10 +10 +10 " -- \
  kubectl get deployment nginx-deployment --no-headers
h124=$(kubectl get rs -l app=nginx -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
expect "ten pods nginx-deployment-$h124-…" "^$h124 10\$" -- pod_hashes
expect "the ten pods use all three nodes" "^3\$" -- \
  bash -c "kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}' | sort -u | grep -c ."

# --- 51–52: rolling update to 1.26, watched by rollout status and a sampler --------------------
# The sampler: every ~0.5 s (at least 3 samples: a faster rollout means fewer), non-terminating pods (no deletionTimestamp, not Succeeded/Failed) and the
# deployment's availableReplicas; bounded to 10 minutes, stops when $E2E_TMP/stop exists.
sampler() {
  local end=$((SECONDS + 600))
  while [ ! -e "$E2E_TMP/stop" ] && ((SECONDS < end)); do
    local active avail
    active=$(kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.status.phase}{"\n"}{end}' 2>/dev/null |
      grep -cE '^\|(Pending|Running|Unknown|)$')
    avail=$(kubectl get deployment nginx-deployment -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
    echo "$active ${avail:-0}" >>"$E2E_TMP/samples"
    sleep 0.5
  done
}
# check_samples: "samples N max_active A min_available V" over the sampler's file.
check_samples() {
  awk 'BEGIN {mx = 0; mn = 1000} {n++; if ($1 > mx) mx = $1; if ($2 < mn) mn = $2}
       END {print "samples " n " max_active " mx " min_available " mn}' "$E2E_TMP/samples"
}
rollout() {  # DESC: runs kubectl rollout status with a sampler; checks the bounds afterwards
  rm -f "$E2E_TMP/stop" "$E2E_TMP/samples"
  sampler &
  local sp=$!
  expect "$1: rollout status prints the progress and ends successfully rolled out" \
    "deployment \"nginx-deployment\" successfully rolled out\$" -- \
    kubectl rollout status deployment nginx-deployment --timeout=420s
  printf '%s\n' "$E2E_LAST_OUT" >"$E2E_TMP/rollout.out"
  touch "$E2E_TMP/stop"
  wait "$sp"
  # What rollout status said, each distinct message once, in order (for the log).
  awk '!seen[$0]++' "$E2E_TMP/rollout.out" | sed 's/^/      | /'
  expect "$1: at most 11 non-terminating pods, at least 9 available ($(check_samples))" \
    "^samples ([3-9]|[1-9][0-9]+) max_active (10|11) min_available (9|10)\$" -- check_samples
}
write_rolling nginx:1.26 "Update naar nginx:1.26"
expect "apply nginx:1.26" "^deployment.apps/nginx-deployment configured\$" -- kubectl apply -f "$E2E_TMP/dep-rolling.yaml"
rollout "update to 1.26"
expect "rollout status: N out of 10 new replicas have been updated" \
  "^Waiting for deployment \"nginx-deployment\" rollout to finish: [0-9]+ out of 10 new replicas have been updated\.\.\.\$" -- \
  cat "$E2E_TMP/rollout.out"
expect "rollout status: old replicas are pending termination" \
  "^Waiting for deployment \"nginx-deployment\" rollout to finish: [0-9]+ old replicas are pending termination\.\.\.\$" -- \
  cat "$E2E_TMP/rollout.out"

# --- 53–54 -------------------------------------------------------------------------------------
expect "get deployment 10/10 10 10" "^nginx-deployment +10/10 +10 +10 " -- kubectl get deployment nginx-deployment --no-headers
h126=$(kubectl get rs -l app=nginx -o jsonpath='{range .items[*]}{.metadata.labels.pod-template-hash} {.spec.replicas}{"\n"}{end}' |
  awk '$2 == 10 {print $1}')
eventually 30 2 "ten pods of the new ReplicaSet" "^$h126 10\$" -- pod_hashes
expect "rollout history" \
  "^deployment.apps/nginx-deployment\|REVISION CHANGE-CAUSE\|1 Initial release\|2 Update naar nginx:1.26\$" -- hist_out
expect "rollout history header has two spaces" "^REVISION  CHANGE-CAUSE\$" -- kubectl rollout history deployment nginx-deployment

# --- 55–57: undo to revision 1 -----------------------------------------------------------------
expect "rollout undo --to-revision=1" "^deployment.apps/nginx-deployment rolled back\$" -- \
  kubectl rollout undo deployment nginx-deployment --to-revision=1
rollout "undo"
expect "history: revision 1 became 3" \
  "^deployment.apps/nginx-deployment\|REVISION CHANGE-CAUSE\|2 Update naar nginx:1.26\|3 Initial release\$" -- hist_out
eventually 30 2 "ten pods of the first ReplicaSet again" "^$h124 10\$" -- pod_hashes
expect "get rs header" "^NAME +DESIRED +CURRENT +READY +AGE\$" -- kubectl get rs
expect "get rs: the first ReplicaSet 10 10 10" "^nginx-deployment-$h124 +10 +10 +10 +[0-9]+[sm]" -- kubectl get rs
expect "get rs: the 1.26 one kept at 0 0 0" "^nginx-deployment-$h126 +0 +0 +0 +[0-9]+[sm]" -- kubectl get rs

# --- 58: declarative, template already live ----------------------------------------------------
write_rolling nginx:1.24 "Initial release"
expect "apply Initial release / 1.24" "^deployment.apps/nginx-deployment configured\$" -- kubectl apply -f "$E2E_TMP/dep-rolling.yaml"
sleep 3
expect "get deployment 10/10" "^nginx-deployment +10/10 +10 +10 " -- kubectl get deployment nginx-deployment --no-headers
expect "history unchanged (no rollout, no revision)" \
  "^deployment.apps/nginx-deployment\|REVISION CHANGE-CAUSE\|2 Update naar nginx:1.26\|3 Initial release\$" -- hist_out
expect "still two ReplicaSets" "^2\$" -- bash -c "kubectl get rs --no-headers | grep -c ."

# --- 59: 1.26 again ----------------------------------------------------------------------------
write_rolling nginx:1.26 "Update naar nginx:1.26"
expect "apply Update naar nginx:1.26" "^deployment.apps/nginx-deployment configured\$" -- kubectl apply -f "$E2E_TMP/dep-rolling.yaml"
rollout "1.26 again"
expect "history: 3 Initial release, 4 Update naar nginx:1.26" \
  "^deployment.apps/nginx-deployment\|REVISION CHANGE-CAUSE\|3 Initial release\|4 Update naar nginx:1.26\$" -- hist_out

# --- 60: back to 1.24 with a new cause ---------------------------------------------------------
write_rolling nginx:1.24 "Rollback to nginx 1.24 due to bug"
expect "apply Rollback to nginx 1.24 due to bug" "^deployment.apps/nginx-deployment configured\$" -- \
  kubectl apply -f "$E2E_TMP/dep-rolling.yaml"
rollout "rollback by apply"
expect "history: 4 Update naar nginx:1.26, 5 Rollback to nginx 1.24 due to bug" \
  "^deployment.apps/nginx-deployment\|REVISION CHANGE-CAUSE\|4 Update naar nginx:1.26\|5 Rollback to nginx 1.24 due to bug\$" -- hist_out
expect "get deployment 10/10 10 10" "^nginx-deployment +10/10 +10 +10 " -- kubectl get deployment nginx-deployment --no-headers

# --- 53 (mentioned): rollout pause / resume ----------------------------------------------------
expect "rollout pause" "^deployment.apps/nginx-deployment paused\$" -- kubectl rollout pause deployment nginx-deployment
expect "a change while paused" "^deployment.apps/nginx-deployment image updated\$" -- \
  kubectl set image deployment/nginx-deployment nginx=nginx:latest
sleep 5
expect "no new ReplicaSet while paused" "^2\$" -- bash -c "kubectl get rs --no-headers | grep -c ."
expect "the pods are untouched" "^$h124 10\$" -- pod_hashes
expect "rollout resume" "^deployment.apps/nginx-deployment resumed\$" -- kubectl rollout resume deployment nginx-deployment
rollout "after resume"
expect "a third ReplicaSet carries the change" "^3\$" -- bash -c "kubectl get rs --no-headers | grep -c ."
expect "ten pods run nginx:latest" "^nginx:latest 10\$" -- bash -c \
  "kubectl get pods -l app=nginx -o jsonpath='{range .items[*]}{.spec.containers[0].image} {.metadata.deletionTimestamp}{\"\\n\"}{end}' | awk '\$2 == \"\" {n[\$1]++} END {for (i in n) print i, n[i]}'"

# --- cleanup: cluster delete takes the node added with node create -----------------------------
run "cluster delete $c" -- "$K3DPP" cluster delete "$c"
expect "no container of $c is left (incl. $agent2_ctr)" "^0\$" -- \
  bash -c "docker ps -a --filter label=k3dpp.cluster=$c --format '{{.Names}}' | grep -c . || true"
expect "the added node's container is gone" "^0\$" -- bash -c "docker ps -a --format '{{.Names}}' | grep -cx '$agent2_ctr' || true"

e2e_summary
