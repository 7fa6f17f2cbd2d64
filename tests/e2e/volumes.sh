#!/usr/bin/env bash
# Chapter: pod volumes on a real cluster. emptyDir shared by two containers and kept across a
# container restart, emptyDir medium Memory (tmpfs, unmounted with the pod), configMap and secret
# as files (items, defaultMode, subPath) and env vars, a configMap update reaching the files,
# downwardAPI and projected volumes (a label change reaching the file), hostPath type checks,
# `k3dpp cluster create -v HOSTDIR:/NODEDIR@server:0` seen by a hostPath pod, a read-only claim,
# local-path data surviving a node restart, and a StorageClass with reclaim Retain (PV Released,
# data kept).
# Needs the busybox workload image (images/build-workloads.sh), imported with `k3dpp image import`.
source "$(dirname "$0")/lib.sh"

t0=$SECONDS
e2e_new_cluster c volumes
hostdir=$E2E_TMP/hostdir
mkdir -p "$hostdir" && echo "hello from the host" >"$hostdir/host.txt"
run "cluster create $c --agents 1 -v $hostdir:/srv/host@server:0" -- \
  "$K3DPP" cluster create "$c" --agents 1 -v "$hostdir:/srv/host@server:0"
run "image import busybox" -- "$K3DPP" image import busybox:latest -c "$c"
server=k3dpp-$c-server-0
agent=k3dpp-$c-agent-0
expect "-v: the host dir is in server-0" "hello from the host" -- docker exec "$server" cat /srv/host/host.txt
expect_fail "-v @server:0: not in agent-0" "No such file" -- docker exec "$agent" ls /srv/host

# --- emptyDir shared by two containers, surviving a container restart; Memory medium ---
cat >"$E2E_TMP/shared.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: writer
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    # PID 1 ignores SIGTERM unless it traps it: the trap lets `kill 1` end the container.
    command: ['sh', '-c', 'trap "exit 1" TERM; echo "started $(date +%s%N)" >> /cache/boot.log; while true; do sleep 1; done']
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: mem, mountPath: /mem}
  - name: reader
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'sleep 3600']
    volumeMounts:
    - {name: cache, mountPath: /from-writer, readOnly: true}
  volumes:
  - name: cache
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
YAML
expect "apply a pod with two containers sharing an emptyDir" "^pod/shared created" -- kubectl apply -f "$E2E_TMP/shared.yaml"
eventually 60 2 "shared 2/2 Running" "^shared +2/2 +Running" -- kubectl get pod shared --no-headers
run "writer writes a file" -- kubectl exec shared -c writer -- sh -c 'echo payload > /cache/data.txt; echo in-memory > /mem/m.txt'
expect "reader sees it" "^payload$" -- kubectl exec shared -c reader -- cat /from-writer/data.txt
expect_fail "reader's mount is read-only" "Read-only file system" -- kubectl exec shared -c reader -- touch /from-writer/x
expect "medium: Memory is a tmpfs (16Mi)" "^tmpfs /mem tmpfs .*size=16384k" -- kubectl exec shared -c writer -- grep " /mem " /proc/mounts
run "kill the writer's process (its container exits)" -- kubectl exec shared -c writer -- kill 1
eventually 60 2 "writer restarted (RESTARTS 1) and Running" "^shared +2/2 +Running +1 " -- kubectl get pod shared --no-headers
expect "the emptyDir survived the restart" "^payload$" -- kubectl exec shared -c writer -- cat /cache/data.txt
expect "both boots logged in the emptyDir" "^2$" -- kubectl exec shared -c reader -- sh -c 'grep -c started /from-writer/boot.log'
expect "the Memory emptyDir too" "^in-memory$" -- kubectl exec shared -c writer -- cat /mem/m.txt
uid=$(kubectl get pod shared -o jsonpath='{.metadata.uid}')
node=$(kubectl get pod shared -o jsonpath='{.spec.nodeName}')
run "delete pod shared" -- kubectl delete pod shared
eventually 20 1 "the tmpfs and the pod's volume dir are gone from the node" "^clean" -- \
  bash -c "docker exec '$node' sh -c '! grep -q $uid /proc/mounts && ! test -e /var/lib/kubelet/pods/$uid && echo clean'"

# --- configMap and secret: files and env vars; updates reach the files ---
run "create configmap app-config" -- kubectl create configmap app-config --from-literal=greeting=hello --from-literal=color=blue
run "create secret app-secret" -- kubectl create secret generic app-secret --from-literal=password=s3cret --from-literal=user=admin
cat >"$E2E_TMP/config.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: config
  labels: {app: config, tier: test}
  annotations: {team: storage}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'sleep 3600']
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: app-config}
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
    - {name: cfg, mountPath: /etc/greeting.txt, subPath: greeting}
    - {name: sec, mountPath: /etc/secret}
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
  volumes:
  - name: cfg
    configMap: {name: app-config}
  - name: sec
    secret:
      secretName: app-secret
      defaultMode: 0400
      items: [{key: password, path: db/password}]
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: namespace, fieldRef: {fieldPath: metadata.namespace}}
  - name: all
    projected:
      sources:
      - configMap: {name: app-config, items: [{key: color, path: color}]}
      - secret: {name: app-secret, items: [{key: user, path: user}]}
      - downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}
YAML
expect "apply a pod with configMap, secret, downwardAPI and projected volumes" "^pod/config created" -- \
  kubectl apply -f "$E2E_TMP/config.yaml"
eventually 60 2 "config Running" "^config +1/1 +Running" -- kubectl get pod config --no-headers
expect "env from configMapKeyRef" "^GREETING=hello$" -- kubectl exec config -- sh -c 'echo GREETING=$GREETING'
expect "env from secretKeyRef" "^PASSWORD=s3cret$" -- kubectl exec config -- sh -c 'echo PASSWORD=$PASSWORD'
expect "envFrom with prefix" "^CFG_color=blue$" -- kubectl exec config -- sh -c 'env | grep ^CFG_color'
expect "configMap keys as files" "^hello blue$" -- kubectl exec config -- sh -c 'echo $(cat /etc/app/greeting) $(cat /etc/app/color)'
expect "configMap files are links through ..data (kubelet's atomic writer)" "greeting -> \.\.data/greeting" -- \
  kubectl exec config -- ls -la /etc/app
expect "subPath mounts one key as a file" "^hello$" -- kubectl exec config -- cat /etc/greeting.txt
expect "secret item at its path with defaultMode 0400" "^400 s3cret$" -- \
  kubectl exec config -- sh -c 'echo $(stat -L -c %a /etc/secret/db/password) $(cat /etc/secret/db/password)'
expect "a secret volume is a tmpfs (never on the node's disk)" "^tmpfs /etc/secret tmpfs " -- \
  kubectl exec config -- grep " /etc/secret " /proc/mounts
expect_fail "secret keys not in items are not there" "No such file" -- kubectl exec config -- cat /etc/secret/user
expect_fail "configMap volumes are read-only" "Read-only file system" -- kubectl exec config -- sh -c 'echo x > /etc/app/new'
expect "downwardAPI labels" '^app="config"$' -- kubectl exec config -- cat /etc/podinfo/labels
expect "downwardAPI annotations" '^team="storage"$' -- kubectl exec config -- cat /etc/podinfo/annotations
expect "downwardAPI name and namespace" "^config default$" -- \
  kubectl exec config -- sh -c 'echo $(cat /etc/podinfo/name) $(cat /etc/podinfo/namespace)'
expect "projected: configMap, secret and downwardAPI in one dir" "^blue admin config$" -- \
  kubectl exec config -- sh -c 'echo $(cat /etc/all/color) $(cat /etc/all/user) $(cat /etc/all/podname)'

upd_start=$SECONDS
run "update the configMap (greeting=bonjour)" -- bash -c \
  "kubectl create configmap app-config --from-literal=greeting=bonjour --from-literal=color=green --dry-run=client -o yaml | kubectl replace -f -"
run "relabel the pod (tier=prod)" -- kubectl label pod config tier=prod --overwrite
eventually 45 2 "the configMap file follows the update" "^bonjour$" -- kubectl exec config -- cat /etc/app/greeting
echo "      (configMap update visible in the file after $((SECONDS - upd_start)) s)"
eventually 20 2 "the projected file too" "^green$" -- kubectl exec config -- cat /etc/all/color
eventually 20 2 "the downwardAPI labels file follows the label" '^tier="prod"$' -- kubectl exec config -- cat /etc/podinfo/labels
expect "env vars keep their start value" "^GREETING=hello$" -- kubectl exec config -- sh -c 'echo GREETING=$GREETING'
expect "a subPath file keeps its old content (as in Kubernetes)" "^hello$" -- kubectl exec config -- cat /etc/greeting.txt
cuid=$(kubectl get pod config -o jsonpath='{.metadata.uid}')
cnode=$(kubectl get pod config -o jsonpath='{.spec.nodeName}')
run "delete pod config" -- kubectl delete pod config
eventually 20 1 "the secret tmpfs is unmounted with the pod" "^clean" -- \
  bash -c "docker exec '$cnode' sh -c '! grep -q $cuid /proc/mounts && echo clean'"

cat >"$E2E_TMP/missing-cm.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: missing-cm
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: busybox:latest, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'],
     volumeMounts: [{name: cfg, mountPath: /cfg}]}
  volumes:
  - {name: cfg, configMap: {name: does-not-exist}}
YAML
run "apply a pod whose configMap does not exist" -- kubectl apply -f "$E2E_TMP/missing-cm.yaml"
eventually 30 2 "FailedMount event worded like the kubelet's" \
  'FailedMount .*MountVolume.SetUp failed for volume "cfg" : configmap "does-not-exist" not found' -- \
  kubectl describe pod missing-cm
expect "the pod stays ContainerCreating" "^missing-cm +0/1 +ContainerCreating" -- kubectl get pod missing-cm --no-headers
run "create the configMap" -- kubectl create configmap does-not-exist --from-literal=k=v
eventually 60 2 "the pod starts once it exists" "^missing-cm +1/1 +Running" -- kubectl get pod missing-cm --no-headers
run "delete pod missing-cm" -- kubectl delete pod missing-cm

# --- hostPath: the -v host directory, and type checks ---
cat >"$E2E_TMP/hostpath.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: hostpath
spec:
  terminationGracePeriodSeconds: 1
  nodeName: $server
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
    volumeMounts:
    - {name: host, mountPath: /host}
    - {name: created, mountPath: /created}
    - {name: file, mountPath: /state/file.txt}
  volumes:
  - name: host
    hostPath: {path: /srv/host, type: Directory}
  - name: created
    hostPath: {path: /srv/new-dir, type: DirectoryOrCreate}
  - name: file
    hostPath: {path: /srv/state.txt, type: FileOrCreate}
YAML
expect "apply a hostPath pod on server-0" "^pod/hostpath created" -- kubectl apply -f "$E2E_TMP/hostpath.yaml"
eventually 60 2 "hostpath Running" "^hostpath +1/1 +Running" -- kubectl get pod hostpath --no-headers
expect "the pod reads the file from the host directory (-v)" "^hello from the host$" -- kubectl exec hostpath -- cat /host/host.txt
run "the pod writes into it" -- kubectl exec hostpath -- sh -c 'echo "hello from the pod" > /host/pod.txt'
expect "the host sees the pod's file" "^hello from the pod$" -- cat "$hostdir/pod.txt"
run "DirectoryOrCreate created the directory on the node" -- docker exec "$server" test -d /srv/new-dir
run "FileOrCreate created the file on the node" -- docker exec "$server" test -f /srv/state.txt
run "delete pod hostpath" -- kubectl delete pod hostpath
cat >"$E2E_TMP/badhost.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: badhost
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: busybox:latest, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'],
     volumeMounts: [{name: h, mountPath: /h}]}
  volumes:
  - {name: h, hostPath: {path: /no/such/dir, type: Directory}}
YAML
run "apply a pod with a hostPath of type Directory that does not exist" -- kubectl apply -f "$E2E_TMP/badhost.yaml"
eventually 30 2 "FailedMount: hostPath type check failed" \
  'MountVolume.SetUp failed for volume "h" : hostPath type check failed: /no/such/dir is not a directory' -- \
  kubectl describe pod badhost
run "delete pod badhost" -- kubectl delete pod badhost

# --- claims: readOnly, and a local-path class with reclaim Retain ---
cat >"$E2E_TMP/retain.yaml" <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-retain
provisioner: rancher.io/local-path
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: kept
spec:
  storageClassName: local-retain
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: keeper
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'echo kept-data > /data/file.txt; echo nested > /sub/n.txt; sleep 3600']
    volumeMounts: [{name: d, mountPath: /data}, {name: d, mountPath: /sub, subPath: deep/dir}]
  - name: ro
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
    volumeMounts: [{name: ro, mountPath: /data}]
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: kept}}
  - {name: ro, persistentVolumeClaim: {claimName: kept, readOnly: true}}
YAML
run "apply a Retain local-path class, a claim and a pod" -- kubectl apply -f "$E2E_TMP/retain.yaml"
eventually 60 2 "keeper 2/2 Running" "^keeper +2/2 +Running" -- kubectl get pod keeper --no-headers
eventually 10 1 "the read-only mount sees the data" "^kept-data$" -- kubectl exec keeper -c ro -- cat /data/file.txt
expect_fail "and cannot write" "Read-only file system" -- kubectl exec keeper -c ro -- touch /data/x
expect "a subPath of the claim (created on demand) is a directory inside the volume" "^nested$" -- \
  kubectl exec keeper -c ro -- cat /data/deep/dir/n.txt
pv=$(kubectl get pvc kept -o jsonpath='{.spec.volumeName}')
knode=$(kubectl get pod keeper -o jsonpath='{.spec.nodeName}')
kdir=$(kubectl get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
# The volume lives in the node container's filesystem: it survives a node restart.
run "node stop $knode" -- "$K3DPP" node stop "$knode"
run "node start $knode" -- "$K3DPP" node start "$knode"
eventually 60 2 "keeper Running again after the node restart" "^keeper +2/2 +Running" -- kubectl get pod keeper --no-headers
eventually 20 2 "the local-path data survived the node restart" "^kept-data$" -- kubectl exec keeper -c ro -- cat /data/file.txt
run "delete pod keeper" -- kubectl delete pod keeper --grace-period=1
run "delete pvc kept" -- kubectl delete pvc kept
eventually 15 1 "Retain: the PV is Released" "^$pv +100Mi +RWO +Retain +Released +default/kept +local-retain " -- kubectl get pv "$pv"
sleep 2
expect "Retain: the data stays on $knode" "^kept-data$" -- docker exec "$knode" cat "$kdir/file.txt"
run "delete the Released PV" -- kubectl delete pv "$pv"
sleep 2
expect "a Retain PV's directory is not removed with the PV" "^kept-data$" -- docker exec "$knode" cat "$kdir/file.txt"

# A Delete volume whose claim goes while its node is down: the node removes the directory when
# it is back (the PV itself is deleted at once by the controller).
cat >"$E2E_TMP/offline.yaml" <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: offline
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: offline
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {kubernetes.io/hostname: $agent}
  containers:
  - {name: app, image: busybox:latest, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'],
     volumeMounts: [{name: d, mountPath: /data}]}
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: offline}}
YAML
run "apply a local-path claim and a pod on $agent" -- kubectl apply -f "$E2E_TMP/offline.yaml"
eventually 60 2 "offline Running" "^offline +1/1 +Running" -- kubectl get pod offline --no-headers
odir=$(kubectl get pv "$(kubectl get pvc offline -o jsonpath='{.spec.volumeName}')" -o jsonpath='{.spec.hostPath.path}')
run "delete pod offline" -- kubectl delete pod offline
run "node stop $agent" -- "$K3DPP" node stop "$agent"
run "delete pvc offline while $agent is down" -- kubectl delete pvc offline
eventually 10 1 "the PV is deleted at once" "^No resources found" -- kubectl get pv
run "node start $agent" -- "$K3DPP" node start "$agent"
eventually 30 2 "$agent removes the directory once it is back" "^gone" -- \
  bash -c "docker exec '$agent' test -e '$odir' 2>/dev/null || { docker exec '$agent' true && echo gone; }"

echo "chapter time: $((SECONDS - t0)) s"
e2e_summary
