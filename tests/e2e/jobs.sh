#!/usr/bin/env bash
# Chapter: Jobs and CronJobs (batch/v1) on a real 1-server/1-agent cluster (issue 18): a Job runs
# to completion (kubectl create job, wait, logs, get, describe), a failing Job stops at its
# backoffLimit (BackoffLimitExceeded), an Indexed Job's pods see JOB_COMPLETION_INDEX and their
# hostname, a CronJob every minute creates its Job, `create job --from=cronjob/X`, a malformed
# schedule is refused with Kubernetes' message. Needs busybox:latest (images/build-workloads.sh).
source "$(dirname "$0")/lib.sh"
t_begin=$SECONDS

e2e_new_cluster c jobs
run "cluster create $c (1 server, 1 agent)" -- "$K3DPP" cluster create "$c" --servers 1 --agents 1
run "image import busybox" -- "$K3DPP" image import busybox:latest -c "$c"
eventually 60 2 "both nodes Ready" "(Ready[\s\S]*){2}" -- kubectl get nodes --no-headers
jp() { kubectl get "$1" -o jsonpath="$2"; }

# ---------------------------------------------------------------- a Job to completion
# The CronJob first: its first run is due at the next minute boundary while the Jobs below run.
expect "create cronjob tick */1" "^cronjob.batch/tick created\$" -- \
  kubectl create cronjob tick --image=busybox:latest --schedule='*/1 * * * *' -- echo tick
expect "get cronjobs: 1.32's columns" "^NAME +SCHEDULE +TIMEZONE +SUSPEND +ACTIVE +LAST SCHEDULE +AGE
tick +\*/1 \* \* \* \* +<none> +False +[01] +(<none>|[0-9]+s) +[0-9]+s\$" -- kubectl get cronjobs

expect "create job once" "^job.batch/once created\$" -- kubectl create job once --image=busybox:latest -- echo hi
expect "wait --for=condition=complete" "^job.batch/once condition met\$" -- \
  kubectl wait --for=condition=complete job/once --timeout=120s
expect "logs job/once" "^hi\$" -- kubectl logs job/once
expect "get jobs: 1.32's columns" "^NAME +STATUS +COMPLETIONS +DURATION +AGE
[\s\S]*^once +Complete +1/1 +[0-9]+s +[0-9]+s\$" -- kubectl get jobs
expect "generated selector and labels" "^[0-9a-f-]{36} once once\$" -- \
  jp job/once '{.spec.selector.matchLabels.batch\.kubernetes\.io/controller-uid} {.spec.template.metadata.labels.job-name} {.spec.template.metadata.labels.batch\.kubernetes\.io/job-name}'
expect "conditions SuccessCriteriaMet then Complete" "^SuccessCriteriaMet Complete CompletionsReached\$" -- \
  jp job/once '{.status.conditions[0].type} {.status.conditions[1].type} {.status.conditions[1].reason}'
expect "describe job: pods statuses and events" "Completions: +1\nCompletion Mode: +NonIndexed[\s\S]*Pods Statuses: +0 Active \(0 Ready\) / 1 Succeeded / 0 Failed[\s\S]*Normal +SuccessfulCreate +.* job-controller +Created pod: once-[a-z0-9]{5}[\s\S]*Normal +Completed +.* job-controller +Job completed" -- \
  kubectl describe job once
expect "the pod is Completed, its finalizer released" "^once-[a-z0-9]{5} +0/1 +Completed +0 " -- \
  kubectl get pods -l job-name=once --no-headers
expect "no job-tracking finalizer left" "^\$" -- jp pods '{.items[*].metadata.finalizers}'

# ---------------------------------------------------------------- backoffLimit
cat >"$E2E_TMP/fail.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata:
  name: fail
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo failing; exit 3"]
YAML
run "apply a Job that always fails (backoffLimit 1)" -- kubectl apply -f "$E2E_TMP/fail.yaml"
expect "wait --for=condition=failed (two pods, 10 s back-off between)" "^job.batch/fail condition met\$" -- \
  kubectl wait --for=condition=failed job/fail --timeout=150s
expect "Failed: BackoffLimitExceeded, 2 failed pods" "^BackoffLimitExceeded Job has reached the specified backoff limit 2\$" -- \
  jp job/fail '{.status.conditions[?(@.type=="Failed")].reason} {.status.conditions[?(@.type=="Failed")].message} {.status.failed}'
expect "get jobs shows Failed 0/1" "^fail +Failed +0/1 " -- kubectl get jobs fail --no-headers
expect "the BackoffLimitExceeded warning event" "Warning +BackoffLimitExceeded +job/fail +Job has reached the specified backoff limit" -- \
  kubectl get events --field-selector involvedObject.name=fail

# ---------------------------------------------------------------- Indexed
cat >"$E2E_TMP/idx.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata:
  name: idx
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"]
YAML
run "apply an Indexed Job of 3" -- kubectl apply -f "$E2E_TMP/idx.yaml"
expect "wait for the Indexed Job" "condition met" -- kubectl wait --for=condition=complete job/idx --timeout=120s
expect "completedIndexes 0-2" "^0-2 3\$" -- jp job/idx '{.status.completedIndexes} {.status.succeeded}'
expect "index 2's pod saw JOB_COMPLETION_INDEX=2 and hostname idx-2" "^index=2 host=idx-2\$" -- \
  kubectl logs -l batch.kubernetes.io/job-completion-index=2
expect "get jobs shows 3/3" "^idx +Complete +3/3 " -- kubectl get jobs idx --no-headers

# ---------------------------------------------------------------- CronJobs
eventually 45 2 "the CronJob created tick-<minutes> within 90 s" "^tick-[0-9]{8} " -- kubectl get jobs --no-headers
expect "its scheduled-timestamp annotation is a whole minute" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00Z\$" -- \
  bash -c "kubectl get job \$(kubectl get jobs --no-headers -o custom-columns=N:.metadata.name | grep -m1 '^tick-') -o jsonpath='{.metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}'"
eventually 30 2 "get cronjobs: LAST SCHEDULE set" "^tick +\*/1 \* \* \* \* +<none> +False +[01] +[0-9]+s +[0-9]+(s|m[0-9]*s?)\$" -- \
  kubectl get cronjob tick --no-headers
expect "create job --from=cronjob/tick" "^job.batch/manual created\$" -- kubectl create job manual --from=cronjob/tick
expect "the manual Job carries cronjob.kubernetes.io/instantiate=manual" "^manual CronJob\$" -- \
  jp job/manual '{.metadata.annotations.cronjob\.kubernetes\.io/instantiate} {.metadata.ownerReferences[0].kind}'
expect "the manual Job completes" "condition met" -- kubectl wait --for=condition=complete job/manual --timeout=120s
expect_fail "a malformed schedule is refused with Kubernetes' message" \
  '^error: failed to create cronjob: CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 \* \* \* \*": end of range \(61\) above maximum \(59\): 61$' -- \
  kubectl create cronjob bad --image=busybox:latest --schedule='61 * * * *' -- true
expect_fail "five fields are required" 'spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: \[every minute\]' -- \
  kubectl create cronjob bad --image=busybox:latest --schedule='every minute' -- true
expect_fail "TZ in the schedule is refused" 'spec.schedule: Invalid value: "CRON_TZ=UTC 0 \* \* \* \*": cannot use TZ or CRON_TZ in schedule, use timeZone field instead' -- \
  kubectl create cronjob bad --image=busybox:latest --schedule='CRON_TZ=UTC 0 * * * *' -- true
expect "nothing half-created" "^\$" -- kubectl get cronjob bad --ignore-not-found

# ---------------------------------------------------------------- cascading deletes
expect "delete job idx" '^job.batch "idx" deleted$' -- kubectl delete job idx
eventually 30 2 "its pods go with it (no finalizer holds them)" "^0\$" -- \
  bash -c "kubectl get pods -l job-name=idx --no-headers 2>/dev/null | grep -c . || true"
expect "delete cronjob tick" '^cronjob.batch "tick" deleted$' -- kubectl delete cronjob tick
eventually 30 2 "its Jobs (and their pods) go with it" "^0\$" -- \
  bash -c "kubectl get jobs --no-headers 2>/dev/null | grep -cE '^(tick-|manual )' || true"

echo "chapter took $((SECONDS - t_begin)) s"
e2e_summary
