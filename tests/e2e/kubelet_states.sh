#!/usr/bin/env bash
# Chapter: what the kubelet shows when things go wrong or end, on a real cluster (issue 5):
# an image that cannot be pulled (ErrImagePull -> ImagePullBackOff, events), a crashing container
# (CrashLoopBackOff, RESTARTS growing with back-off, logs --previous), restartPolicy Never and
# OnFailure (Completed / Error, phases), `kubectl attach` to a TTY pod and `kubectl run -it --rm`.
# Needs busybox:latest (images/build-workloads.sh), imported with `k3dpp image import`.
source "$(dirname "$0")/lib.sh"
t_begin=$SECONDS

e2e_new_cluster c basics-states
run "cluster create $c (1 server)" -- "$K3DPP" cluster create "$c"
run "image import busybox" -- "$K3DPP" image import busybox:latest -c "$c"
eventually 60 2 "node Ready" " Ready " -- kubectl get nodes --no-headers

# tty_run INPUT CMD...: CMD under a pseudo-terminal (util-linux script), INPUT typed after a pause.
tty_run() {
  local input=$1; shift
  { sleep 5; printf '%b' "$input"; sleep 5; } | timeout 90 script -qec "$*" /dev/null
}
# tty_hold INPUT CMD...: like tty_run, but the terminal stays open until CMD is cut off after 15 s
# (no end-of-file reaches the pod, so an attached shell keeps running).
tty_hold() {
  local input=$1; shift
  { sleep 5; printf '%b' "$input"; sleep 12; } | timeout 15 script -qec "$*" /dev/null
  return 0
}
pod_field() { kubectl get pod "$1" -o jsonpath="$2"; }

# ---------------------------------------------------------------- image that does not exist
kubectl get pods -w --output-watch-events >"$E2E_TMP/watch.log" 2>&1 &
watch_pid=$!
sleep 1
expect "run a pod whose image does not exist" "^pod/nopull created\$" -- \
  kubectl run nopull --image=registry.k3dpp.invalid/no/such-image:1.0
eventually 60 2 "get pods shows ImagePullBackOff" "^nopull +0/1 +ImagePullBackOff +0 " -- kubectl get pods --no-headers
eventually 30 2 "the watch saw ErrImagePull, then ImagePullBackOff" \
  "nopull +0/1 +ErrImagePull +0 [\s\S]*nopull +0/1 +ImagePullBackOff +0 " -- cat "$E2E_TMP/watch.log"
expect "state.waiting says Back-off pulling image" '^ImagePullBackOff Back-off pulling image "registry\.k3dpp\.invalid/no/such-image:1\.0"' -- \
  pod_field nopull '{.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}'
expect "describe: waiting reason and the pull events" "State: +Waiting
 +Reason: +ImagePullBackOff[\s\S]*Events:[\s\S]*Normal +Pulling +.* kubelet +Pulling image \"registry\.k3dpp\.invalid/no/such-image:1\.0\"[\s\S]*Warning +Failed +.* kubelet +Failed to pull image \"registry\.k3dpp\.invalid/no/such-image:1\.0\": [\s\S]*Warning +Failed +.* kubelet +Error: ErrImagePull[\s\S]*kubelet +(Back-off pulling image|Error: ImagePullBackOff)" -- \
  kubectl describe pod nopull
expect "get events lists the pull failure" "Warning +Failed +pod/nopull +Failed to pull image" -- kubectl get events
expect "delete the pod that never started" "^pod \"nopull\" deleted\$" -- kubectl delete pod nopull

# ---------------------------------------------------------------- CrashLoopBackOff
cat >"$E2E_TMP/crasher.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: crasher
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "n=$(cat /d/n 2>/dev/null || echo 0); n=$((n+1)); echo $n >/d/n; echo attempt $n; exit 1"]
    volumeMounts:
    - {name: d, mountPath: /d}
  volumes:
  - {name: d, emptyDir: {}}
YAML
expect "apply a pod whose container exits 1" "^pod/crasher created\$" -- kubectl apply -f "$E2E_TMP/crasher.yaml"
t_crash=$SECONDS
eventually 60 2 "CrashLoopBackOff with RESTARTS >= 2 (N (Xs ago))" \
  "^crasher +0/1 +CrashLoopBackOff +([2-9]|[1-9][0-9]) \([0-9]+[sm] ago\) " -- kubectl get pods --no-headers
expect "the watch saw Error 0, then Error 1, then CrashLoopBackOff 1" "crasher +0/1 +Error +0 [\s\S]*crasher +0/1 +Error +1 [\s\S]*crasher +0/1 +CrashLoopBackOff +1 " -- \
  cat "$E2E_TMP/watch.log"
r1=$(pod_field crasher '{.status.containerStatuses[0].restartCount}')
expect "waiting message names the back-off delay" \
  "^CrashLoopBackOff back-off (10s|20s|40s|1m20s) restarting failed container=crasher pod=crasher_default\(" -- \
  pod_field crasher '{.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}'
expect "describe: Waiting CrashLoopBackOff, Last State Terminated Error exit 1, Restart Count" "State: +Waiting
 +Reason: +CrashLoopBackOff
 +Last State: +Terminated
 +Reason: +Error
 +Exit Code: +1
 +Started: .*
 +Finished: .*
 +Ready: +False
 +Restart Count: +[1-9][0-9]*" -- kubectl describe pod crasher
expect "describe: BackOff event" "Warning +BackOff +.* kubelet +Back-off restarting failed container crasher in pod crasher_default\(" -- \
  echo "$E2E_LAST_OUT"
eventually 30 2 "logs and logs --previous show the last two attempts" "^ok\$" -- bash -c '
  cur=$(kubectl logs crasher); prev=$(kubectl logs crasher --previous)
  a=${cur#attempt }; b=${prev#attempt }
  [ "$((b + 1))" = "$a" ] && echo ok || echo "current=[$cur] previous=[$prev]"'
eventually 60 3 "RESTARTS keeps growing" "^grown\$" -- bash -c \
  "[ \$(kubectl get pod crasher -o jsonpath='{.status.containerStatuses[0].restartCount}') -gt $r1 ] && echo grown"
r2=$(pod_field crasher '{.status.containerStatuses[0].restartCount}')
el=$((SECONDS - t_crash))
# Without back-off a 1 s resync would restart it about once a second; with 10 s doubling, at most
# 1 + log2(el/10) + 1 restarts fit into el seconds.
expect "back-off: $r2 restarts in ${el}s (far fewer than one per second)" "^ok\$" -- \
  bash -c "[ $r2 -le 7 ] && [ $el -ge 15 ] && echo ok || echo 'restarts=$r2 elapsed=$el'"
expect "delete crasher" "^pod \"crasher\" deleted\$" -- kubectl delete pod crasher --grace-period=1

# ---------------------------------------------------------------- restartPolicy Never / OnFailure
expect "run --restart=Never, exit 0" "^pod/done-ok created\$" -- \
  kubectl run done-ok --image=busybox:latest --image-pull-policy=IfNotPresent --restart=Never -- sh -c 'echo finished fine'
expect "run --restart=Never, exit 3" "^pod/done-bad created\$" -- \
  kubectl run done-bad --image=busybox:latest --image-pull-policy=IfNotPresent --restart=Never -- sh -c 'echo failing >&2; exit 3'
cat >"$E2E_TMP/onfailure.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: retry-once
spec:
  restartPolicy: OnFailure
  containers:
  - name: job
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "if [ -f /d/once ]; then echo second try ok; exit 0; fi; touch /d/once; echo first try fails; exit 1"]
    volumeMounts:
    - {name: d, mountPath: /d}
  volumes:
  - {name: d, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata:
  name: onfailure-ok
spec:
  restartPolicy: OnFailure
  containers:
  - name: job
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["true"]
YAML
expect "apply two restartPolicy OnFailure pods" "pod/retry-once created
pod/onfailure-ok created" -- kubectl apply -f "$E2E_TMP/onfailure.yaml"
eventually 90 2 "Never+0: Completed; Never+3: Error; OnFailure: Completed (after 1 restart for retry-once)" \
  "^done-bad +0/1 +Error +0 +[0-9a-z]+
done-ok +0/1 +Completed +0 +[0-9a-z]+
onfailure-ok +0/1 +Completed +0 +[0-9a-z]+
retry-once +0/1 +Completed +1 \([0-9a-z]+ ago\) +[0-9a-z]+\$" -- kubectl get pods --no-headers
expect "phases: Failed, Succeeded, Succeeded, Succeeded" "^Failed Succeeded Succeeded Succeeded \$" -- \
  kubectl get pods -o jsonpath='{range .items[*]}{.status.phase} {end}'
expect "Error pod: terminated exit code 3, reason Error" "^3 Error\$" -- \
  pod_field done-bad '{.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}'
expect "Completed pod: terminated exit code 0, reason Completed" "^0 Completed\$" -- \
  pod_field done-ok '{.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}'
expect "logs of a finished pod" "^finished fine\$" -- kubectl logs done-ok
expect "logs of a failed pod (stderr)" "^failing\$" -- kubectl logs done-bad
expect "logs --previous of OnFailure's first run" "^first try fails\$" -- kubectl logs retry-once --previous
expect "logs of its second run" "^second try ok\$" -- kubectl logs retry-once
expect_fail "logs --previous without a previous run" "previous terminated container \"done-ok\" in pod \"done-ok\" not found" -- \
  kubectl logs done-ok --previous
expect "describe Failed pod: Status Failed, Terminated Error Exit Code 3" "Status: +Failed[\s\S]*State: +Terminated
 +Reason: +Error
 +Exit Code: +3" -- kubectl describe pod done-bad
expect "ready condition: PodCompleted" "^False PodCompleted\$" -- \
  pod_field done-ok '{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}'
run "delete the finished pods" -- kubectl delete pod done-ok done-bad retry-once onfailure-ok --grace-period=1

# ---------------------------------------------------------------- messages, start errors, init, OOM
cat >"$E2E_TMP/ends.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: term-msg
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo bye-message > /dev/termination-log; exit 4"]
---
apiVersion: v1
kind: Pod
metadata:
  name: log-msg
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo last words from the log; exit 5"]
---
apiVersion: v1
kind: Pod
metadata:
  name: no-cmd
spec:
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["no-such-command"]
---
apiVersion: v1
kind: Pod
metadata:
  name: init-fails
spec:
  initContainers:
  - name: init
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 2"]
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: init-waits
spec:
  initContainers:
  - name: init
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "15"]
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: oom
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done"]
    resources:
      limits: {memory: 20Mi}
YAML
expect "apply six pods that end in different ways" "pod/term-msg created[\s\S]*pod/oom created" -- \
  kubectl apply -f "$E2E_TMP/ends.yaml"
eventually 20 1 "init-waits shows Init:0/1 while its init container runs" "^init-waits +0/1 +Init:0/1 +0 " -- \
  kubectl get pods --no-headers
eventually 90 2 "get pods: Error, Init:CrashLoopBackOff, Running, Error, CrashLoopBackOff, OOMKilled, Error" \
  "^init-fails +0/1 +Init:(Error|CrashLoopBackOff) +[1-9][0-9]* \([0-9a-z]+ ago\) +[0-9a-z]+
init-waits +1/1 +Running +0 +[0-9a-z]+
log-msg +0/1 +Error +0 +[0-9a-z]+
no-cmd +0/1 +(CrashLoopBackOff|StartError|RunContainerError) +[1-9][0-9]* \([0-9a-z]+ ago\) +[0-9a-z]+
oom +0/1 +OOMKilled +0 +[0-9a-z]+
term-msg +0/1 +Error +0 +[0-9a-z]+\$" -- kubectl get pods --no-headers
expect "describe: the message the container wrote to /dev/termination-log" "State: +Terminated
 +Reason: +Error
 +Message: +bye-message
[\s\S]*Exit Code: +4" -- kubectl describe pod term-msg
expect "FallbackToLogsOnError: the log's last line is the message" "^last words from the log\$" -- \
  pod_field log-msg '{.status.containerStatuses[0].state.terminated.message}'
expect "describe a command that does not exist: StartError, exit 128, started at the epoch" \
  "Last State: +Terminated
 +Reason: +StartError
 +Message: +.*executable file .no-such-command. not found in \\\$PATH.*
 +Exit Code: +128
 +Started: +Thu, 01 Jan 1970 00:00:00 \+0000" -- kubectl describe pod no-cmd
expect "describe init-fails: init container Terminated Error exit 2, app container PodInitializing" \
  "Init Containers:
  init:[\s\S]*Last State: +Terminated
 +Reason: +Error
 +Exit Code: +2[\s\S]*Containers:
  c:[\s\S]*State: +Waiting
 +Reason: +PodInitializing" -- kubectl describe pod init-fails
expect "describe init-fails: Initialized False" "Initialized +False" -- echo "$E2E_LAST_OUT"
expect "OOMKilled: exit code 137" "^137 OOMKilled\$" -- \
  pod_field oom '{.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}'
run "delete them" -- kubectl delete pod term-msg log-msg no-cmd init-fails init-waits oom --grace-period=1

# ---------------------------------------------------------------- runAsNonRoot
cat >"$E2E_TMP/nonroot.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: nonroot-refused
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: nonroot-ok
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000}
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "id -u; sleep 3600"]
YAML
expect "apply runAsNonRoot pods" "pod/nonroot-refused created" -- kubectl apply -f "$E2E_TMP/nonroot.yaml"
eventually 60 2 "root image with runAsNonRoot: CreateContainerConfigError; runAsUser 1000 runs" \
  "^nonroot-ok +1/1 +Running +0 +[0-9a-z]+
nonroot-refused +0/1 +CreateContainerConfigError +0 +[0-9a-z]+\$" -- kubectl get pods --no-headers
expect "the event says why" "Warning +Failed +.* kubelet +Error: container has runAsNonRoot and image will run as root \(pod: \"nonroot-refused_default\([0-9a-f-]+\)\", container: c\)" -- \
  kubectl describe pod nonroot-refused
expect "runAsUser 1000 is the process' uid" "^1000\$" -- kubectl logs nonroot-ok
run "delete them" -- kubectl delete pod nonroot-refused nonroot-ok --grace-period=1

# ---------------------------------------------------------------- attach
cat >"$E2E_TMP/attach.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: tty-pod
spec:
  containers:
  - name: shell
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh"]
    stdin: true
    tty: true
---
apiVersion: v1
kind: Pod
metadata:
  name: stdin-pod
spec:
  containers:
  - name: shell
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh"]
    stdin: true
YAML
expect "apply a pod with stdin+tty and one with stdin only" "^pod/tty-pod created
pod/stdin-pod created\$" -- kubectl apply -f "$E2E_TMP/attach.yaml"
eventually 60 2 "both Running" "^stdin-pod +1/1 +Running +0 +[0-9a-z]+
tty-pod +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pods --no-headers
expect "kubectl attach -it tty-pod: the shell on the TTY answers" "attached-42" -- \
  tty_hold 'echo attached-$((6*7)); tty\n' kubectl attach -it tty-pod -c shell
expect "  and it runs on a terminal" "/dev/pts/[0-9]+|/dev/console" -- echo "$E2E_LAST_OUT"
sleep 3
expect "the shell still runs after the client left (no restart)" "^stdin-pod +1/1 +Running +0 +[0-9a-z]+
tty-pod +1/1 +Running +0 +[0-9a-z]+\$" -- kubectl get pods --no-headers
expect "kubectl attach -i stdin-pod (no TTY): commands in, output out" "attached-again-7" -- \
  bash -c "{ sleep 4; echo 'echo attached-again-\$((3+4))'; sleep 6; } | timeout 8 kubectl attach -i stdin-pod -c shell 2>&1; true"
run "delete the attach pods" -- kubectl delete pod tty-pod stdin-pod --grace-period=1

# ---------------------------------------------------------------- run -it --rm
expect "run -it --rm --restart=Never: output, then the pod is deleted" "rm-says-42[\s\S]*pod \"tmp-shell\" deleted" -- \
  tty_run 'echo rm-says-$((6*7))\nexit\n' \
  kubectl run -it --rm --restart=Never tmp-shell --image=busybox:latest --image-pull-policy=IfNotPresent -- sh
expect_fail "tmp-shell is gone" "NotFound" -- kubectl get pod tmp-shell
expect "run --rm -i (no TTY) of a quick command prints its output" "quick-output[\s\S]*pod \"tmp-quick\" deleted" -- \
  timeout 120 kubectl run -i --rm --restart=Never tmp-quick --image=busybox:latest --image-pull-policy=IfNotPresent -- \
  sh -c 'sleep 2; echo quick-output'

kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null
echo "elapsed $((SECONDS - t_begin))s"
e2e_summary
