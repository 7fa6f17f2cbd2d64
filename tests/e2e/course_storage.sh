#!/usr/bin/env bash
# Chapter: the course's storage section (11.10, course-commands.md steps 61-81) on a storage-lab
# cluster with 2 agents: the built-in local-path StorageClass, a container filesystem lost with
# the pod, a manual hostPath PV/PVC bound at once, data kept across pod re-creation, dynamic
# provisioning (WaitForFirstConsumer, PV pvc-<uid> pinned to the pod's node), nginx serving a page
# from the volume through kubectl port-forward, reclaim Delete removing the PV and its directory.
# Needs the workload images (images/build-workloads.sh), imported with `k3dpp image import`.
source "$(dirname "$0")/lib.sh"

# expect_all DESC CMD -- PATTERN...: one run of CMD (a string for bash -c), every pattern must match.
expect_all() {
  local desc=$1 cmd=$2; shift 2; [ "$1" = -- ] && shift
  E2E_LAST_OUT=$(bash -c "$cmd" 2>&1); local rc=$? p missing=()
  for p in "$@"; do grep -qE -- "$p" <<<"$E2E_LAST_OUT" || missing+=("$p"); done
  if [ $rc -eq 0 ] && [ ${#missing[@]} -eq 0 ]; then
    E2E_PASSED=$((E2E_PASSED + 1)); echo "ok    $desc"; return 0
  fi
  _e2e_fail "$desc" "command: $cmd" "exit code: $rc" "missing (regex): ${missing[*]}" "actual:" "$E2E_LAST_OUT"
  return 1
}

t0=$SECONDS
e2e_new_cluster c storage-lab
# 62
expect "cluster create $c --agents 2" "Prep: Network" -- "$K3DPP" cluster create "$c" --agents 2
run "image import busybox nginx" -- "$K3DPP" image import busybox:latest nginx:latest -c "$c"
expect_all "get nodes: server-0 control-plane,master, agent-0/1 <none>" "kubectl get nodes" -- \
  "^NAME +STATUS +ROLES +AGE +VERSION" "^k3dpp-$c-server-0 +Ready +control-plane,master " \
  "^k3dpp-$c-agent-0 +Ready +<none> " "^k3dpp-$c-agent-1 +Ready +<none> "

# 63
expect_all "get storageclass: local-path (default)" "kubectl get storageclass" -- \
  "^NAME +PROVISIONER +RECLAIMPOLICY +VOLUMEBINDINGMODE +ALLOWVOLUMEEXPANSION +AGE" \
  "^local-path \(default\) +rancher.io/local-path +Delete +WaitForFirstConsumer +false "
expect_all "get storageclass local-path -o yaml" "kubectl get storageclass local-path -o yaml" -- \
  "^apiVersion: storage.k8s.io/v1" "^kind: StorageClass" "defaultVolumeType: local" \
  "storageclass.kubernetes.io/is-default-class: \"true\"" "^provisioner: rancher.io/local-path" \
  "^reclaimPolicy: Delete" "^volumeBindingMode: WaitForFirstConsumer"

# 61 is shown, not applied. If tried (⚑): my-pvc has no class, so admission gives it the default
# local-path and it does not bind my-pv (class ""); the pod gets a provisioned volume instead.
cat >"$E2E_TMP/my.yaml" <<'YAML'
apiVersion: v1
kind: PersistentVolume
metadata:
  name: my-pv
spec:
  capacity:
    storage: 10Gi
  accessModes:
    - ReadWriteOnce
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: /mnt/data
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: my-pvc
spec:
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: 8Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: my-pod
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: nginx
      volumeMounts:
        - name: storage
          mountPath: /usr/share/nginx/html
  volumes:
    - name: storage
      persistentVolumeClaim:
        claimName: my-pvc
YAML
run "61 (if tried): apply my-pv, my-pvc, my-pod" -- kubectl apply -f "$E2E_TMP/my.yaml"
eventually 60 2 "61: my-pvc gets local-path and a provisioned volume" "^my-pvc +Bound +pvc-[0-9a-f-]+ +8Gi +RWO +local-path " -- \
  kubectl get pvc my-pvc --no-headers
expect "61: my-pv stays Available" "^my-pv +10Gi +RWO +Retain +Available +" -- kubectl get pv my-pv --no-headers
run "61: clean up" -- kubectl delete -f "$E2E_TMP/my.yaml"
eventually 15 1 "61: nothing left" "^No resources found" -- kubectl get pv

# 64-66: the container filesystem goes with the pod.
cat >"$E2E_TMP/temptest.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: temp-data-pod
spec:
  containers:
    - name: writer
      image: busybox
      command: ['sh', '-c', 'while true; do echo "Log entry at $(date)" >> /tmp/app.log; sleep 5; done']
YAML
expect "apply temptest.yaml" "^pod/temp-data-pod created" -- kubectl apply -f "$E2E_TMP/temptest.yaml"
eventually 60 2 "temp-data-pod Running" "temp-data-pod +1/1 +Running" -- kubectl get pod temp-data-pod --no-headers
# `tail -f` until ^C: here until timeout stops it (exit 124 = it was still following).
eventually 10 2 "exec tail -f /tmp/app.log follows the log" "^Log entry at " -- \
  bash -c 'timeout 7 kubectl exec temp-data-pod -- tail -f /tmp/app.log; [ $? = 124 ]'
expect "exec ls -la /tmp/ lists app.log" "app\.log" -- kubectl exec temp-data-pod -- ls -la /tmp/
kubectl exec temp-data-pod -- cat /tmp/app.log >"$E2E_TMP/old.log" 2>/dev/null
# sh as PID 1 ignores SIGTERM: the runtime kills it after the 30 s grace period, as in the course.
del_start=$SECONDS
expect "delete -f temptest.yaml (30 s grace: PID 1 ignores SIGTERM)" "^pod \"temp-data-pod\" deleted" -- \
  kubectl delete -f "$E2E_TMP/temptest.yaml"
del_took=$((SECONDS - del_start))
expect "the delete waited for the grace period (${del_took}s)" "^ok" -- \
  bash -c "[ $del_took -ge 25 ] && [ $del_took -le 90 ] && echo ok"
expect "apply temptest.yaml again" "^pod/temp-data-pod created" -- kubectl apply -f "$E2E_TMP/temptest.yaml"
eventually 60 2 "new temp-data-pod Running" "temp-data-pod +1/1 +Running" -- kubectl get pod temp-data-pod --no-headers
eventually 10 2 "the new log holds only new lines" "^fresh" -- bash -c \
  "kubectl exec temp-data-pod -- cat /tmp/app.log >'$E2E_TMP/new.log' && [ -s '$E2E_TMP/new.log' ] && [ -s '$E2E_TMP/old.log' ] && ! grep -Fxf '$E2E_TMP/old.log' '$E2E_TMP/new.log' && echo fresh"
run "delete temp-data-pod (cleanup, not in the course)" -- kubectl delete pod temp-data-pod --grace-period=1

# 67-69: a manual PV and claim bind at once (no StorageClass "manual" exists).
cat >"$E2E_TMP/manual-pv.yaml" <<'YAML'
apiVersion: v1
kind: PersistentVolume
metadata:
  name: manual-pv
spec:
  capacity:
    storage: 1Gi
  accessModes:
    - ReadWriteOnce
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath:
    path: /tmp/k3d-manual-pv
YAML
cat >"$E2E_TMP/manual-pvc.yaml" <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: manual-pvc
spec:
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: 1Gi
  storageClassName: manual
YAML
expect "apply manual-pv.yaml" "^persistentvolume/manual-pv created" -- kubectl apply -f "$E2E_TMP/manual-pv.yaml"
expect "apply manual-pvc.yaml" "^persistentvolumeclaim/manual-pvc created" -- kubectl apply -f "$E2E_TMP/manual-pvc.yaml"
eventually 10 1 "get pv: manual-pv 1Gi RWO Retain Bound" \
  "^manual-pv +1Gi +RWO +Retain +Bound +default/manual-pvc +manual " -- kubectl get pv
expect_all "get pvc: manual-pvc Bound manual-pv 1Gi" "kubectl get pvc" -- \
  "^NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS" "^manual-pvc +Bound +manual-pv +1Gi +RWO +manual "
expect_all "describe pvc manual-pvc" "kubectl describe pvc manual-pvc" -- \
  "^Name: +manual-pvc$" "^Namespace: +default$" "^StorageClass: +manual$" "^Status: +Bound$" "^Volume: +manual-pv$" \
  "^Labels: +<none>$" "^Annotations: +pv.kubernetes.io/bind-completed: yes$" \
  "^ +pv.kubernetes.io/bound-by-controller: yes$" "^Finalizers: +\[kubernetes.io/pvc-protection\]$" \
  "^Capacity: +1Gi$" "^Access Modes: +RWO$" "^VolumeMode: +Filesystem$" "^Used By: +<none>$" "^Events: +<none>$"

# 70-72: data on the PV outlives the pod. The course's volumeMounts sit at pod level (a strict
# decoding error); the intent, under the container, is applied. A hostPath PV is per node and the
# course assumes the re-created pod lands on the same node (a real cluster does not promise it):
# the pod is pinned to agent-0 with a nodeSelector so the replay is deterministic.
cat >"$E2E_TMP/pod-with-pvc.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: pvc-demo
spec:
  nodeSelector:
    kubernetes.io/hostname: k3dpp-$c-agent-0
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo "Persistent data" > /mydata/file.txt && sleep 3600']
    volumeMounts:
    - name: persistent-storage
      mountPath: /mydata
  volumes:
  - name: persistent-storage
    persistentVolumeClaim:
      claimName: manual-pvc
YAML
expect "apply pod-with-pvc.yaml" "^pod/pvc-demo created" -- kubectl apply -f "$E2E_TMP/pod-with-pvc.yaml"
eventually 60 2 "pvc-demo Running" "pvc-demo +1/1 +Running" -- kubectl get pod pvc-demo --no-headers
run "exec: write /mydata/important.txt" -- kubectl exec pvc-demo -- sh -c 'echo "Important data" > /mydata/important.txt'
expect "exec cat /mydata/important.txt" "^Important data$" -- kubectl exec pvc-demo -- cat /mydata/important.txt
eventually 10 1 "exec cat /mydata/file.txt" "^Persistent data$" -- kubectl exec pvc-demo -- cat /mydata/file.txt
expect "describe pvc: Used By pvc-demo" "^Used By: +pvc-demo$" -- kubectl describe pvc manual-pvc
expect "delete pod pvc-demo (30 s grace)" "^pod \"pvc-demo\" deleted" -- kubectl delete pod pvc-demo
expect "apply pod-with-pvc.yaml again" "^pod/pvc-demo created" -- kubectl apply -f "$E2E_TMP/pod-with-pvc.yaml"
eventually 60 2 "pvc-demo Running again" "pvc-demo +1/1 +Running" -- kubectl get pod pvc-demo --no-headers
expect "important.txt survived the pod" "^Important data$" -- kubectl exec pvc-demo -- cat /mydata/important.txt
expect "file.txt too" "^Persistent data$" -- kubectl exec pvc-demo -- cat /mydata/file.txt

# 73 (the course shows no output; the grace period does not matter here).
run "delete pod pvc-demo" -- kubectl delete pod pvc-demo --grace-period=1
run "delete pvc manual-pvc" -- kubectl delete pvc manual-pvc
eventually 15 1 "Retain: manual-pv is Released once its claim is gone" "^manual-pv +1Gi +RWO +Retain +Released +default/manual-pvc " -- \
  kubectl get pv manual-pv
run "delete pv manual-pv" -- kubectl delete pv manual-pv
expect "Retain: the data stays on the node" "^Important data$" -- \
  docker exec "k3dpp-$c-agent-0" cat /tmp/k3d-manual-pv/important.txt

# 74-76: dynamic provisioning waits for the first consumer.
cat >"$E2E_TMP/dynamic-pvc.yaml" <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: dynamic-pvc
spec:
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: 2Gi
YAML
cat >"$E2E_TMP/dynamic-pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: dynamic-demo
spec:
  containers:
    - name: app
      image: nginx
      volumeMounts:
        - name: web-content
          mountPath: /usr/share/nginx/html
  volumes:
    - name: web-content
      persistentVolumeClaim:
        claimName: dynamic-pvc
YAML
expect "get pv: No resources found" "^No resources found" -- kubectl get pv
expect "apply dynamic-pvc.yaml" "^persistentvolumeclaim/dynamic-pvc created" -- kubectl apply -f "$E2E_TMP/dynamic-pvc.yaml"
sleep 3
expect_all "get pvc: dynamic-pvc Pending, class local-path" "kubectl get pvc" -- \
  "^NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS" "^dynamic-pvc +Pending +local-path "
expect "get pv: still No resources found" "^No resources found" -- kubectl get pv
expect "describe pvc: WaitForFirstConsumer event" "WaitForFirstConsumer +.*waiting for first consumer to be created before binding" -- \
  kubectl describe pvc dynamic-pvc
expect "apply dynamic-pod.yaml" "^pod/dynamic-demo created" -- kubectl apply -f "$E2E_TMP/dynamic-pod.yaml"
uid=$(kubectl get pvc dynamic-pvc -o jsonpath='{.metadata.uid}')
eventually 60 2 "get pvc: dynamic-pvc Bound pvc-<uid> 2Gi RWO local-path" "^dynamic-pvc +Bound +pvc-$uid +2Gi +RWO +local-path " -- \
  kubectl get pvc dynamic-pvc
expect "get pv: pvc-<uid> 2Gi RWO Delete Bound" "^pvc-$uid +2Gi +RWO +Delete +Bound +default/dynamic-pvc +local-path " -- kubectl get pv
eventually 60 2 "dynamic-demo Running" "dynamic-demo +1/1 +Running" -- kubectl get pod dynamic-demo --no-headers
node=$(kubectl get pod dynamic-demo -o jsonpath='{.spec.nodeName}')
expect "the PV is pinned to the pod's node ($node)" "^$node\$" -- \
  kubectl get pv "pvc-$uid" -o jsonpath='{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}{"\n"}'
dir=/var/lib/k3dpp/storage/pvc-${uid}_default_dynamic-pvc
expect "the PV path is on the node's storage dir" "^$dir\$" -- kubectl get pv "pvc-$uid" -o jsonpath='{.spec.hostPath.path}{"\n"}'
run "the directory exists on $node" -- docker exec "$node" test -d "$dir"

# 77-80: nginx serves the page written into the volume, through port-forward.
run "exec -i dynamic-demo -- /bin/sh: write index.html" -- bash -c \
  "printf '%s\n' 'echo \"<h1>Persistent Web Content</h1>\" > /usr/share/nginx/html/index.html' 'exit' | kubectl exec -i dynamic-demo -- /bin/sh"
pfport=$((18000 + RANDOM % 1000))
kubectl port-forward pod/dynamic-demo "$pfport:80" >"$E2E_TMP/pf1.log" 2>&1 &
pf=$!
eventually 20 1 "port-forward pod/dynamic-demo $pfport:80" "Forwarding from 127.0.0.1:$pfport -> 80" -- cat "$E2E_TMP/pf1.log"
eventually 10 1 "curl 127.0.0.1:$pfport serves the page" "^<h1>Persistent Web Content</h1>$" -- \
  curl -s --max-time 5 "http://127.0.0.1:$pfport/"
expect "port-forward printed Handling connection" "Handling connection for $pfport" -- cat "$E2E_TMP/pf1.log"
expect "delete pod dynamic-demo" "^pod \"dynamic-demo\" deleted" -- kubectl delete pod dynamic-demo
expect_fail "curl through the forward of a deleted pod fails" "curl: \((52|56|7)\)" -- \
  curl -sS --max-time 10 "http://127.0.0.1:$pfport/"
eventually 20 1 "port-forward reports lost connection to pod and exits" "^exited" -- \
  bash -c "grep -q 'lost connection to pod' '$E2E_TMP/pf1.log' && ! kill -0 $pf 2>/dev/null && echo exited"
kill "$pf" 2>/dev/null; wait "$pf" 2>/dev/null
expect "apply dynamic-pod.yaml again" "^pod/dynamic-demo created" -- kubectl apply -f "$E2E_TMP/dynamic-pod.yaml"
eventually 60 2 "dynamic-demo Running again" "dynamic-demo +1/1 +Running" -- kubectl get pod dynamic-demo --no-headers
expect "node affinity: the new pod is on $node" "^$node\$" -- kubectl get pod dynamic-demo -o jsonpath='{.spec.nodeName}{"\n"}'
kubectl port-forward pod/dynamic-demo "$pfport:80" >"$E2E_TMP/pf2.log" 2>&1 &
pf=$!
eventually 20 1 "port-forward again" "Forwarding from 127.0.0.1:$pfport -> 80" -- cat "$E2E_TMP/pf2.log"
eventually 10 1 "curl serves the same page" "^<h1>Persistent Web Content</h1>$" -- curl -s --max-time 5 "http://127.0.0.1:$pfport/"
kill "$pf" 2>/dev/null; wait "$pf" 2>/dev/null

# 81: reclaim Delete removes the PV promptly, and its directory on the node.
expect "delete pod dynamic-demo" "^pod \"dynamic-demo\" deleted" -- kubectl delete pod dynamic-demo
expect "get storageclass (as in 63)" "^local-path \(default\) +rancher.io/local-path +Delete +WaitForFirstConsumer +false " -- \
  kubectl get storageclass
expect "delete pvc dynamic-pvc" "^persistentvolumeclaim \"dynamic-pvc\" deleted" -- kubectl delete pvc dynamic-pvc
eventually 10 1 "get pv: No resources found within seconds" "^No resources found" -- kubectl get pv
eventually 10 1 "the volume's directory is gone from $node" "^gone" -- \
  bash -c "docker exec '$node' test -e '$dir' || echo gone"

echo "chapter time: $((SECONDS - t0)) s"
e2e_summary
