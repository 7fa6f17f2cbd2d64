#!/usr/bin/env bash
# Integration test: CustomResourceDefinitions and server-side apply on the real `k3dpp-node server`
# as a host process, driven by the real kubectl 1.32. Expected outputs are what a 1.32 cluster prints.
# Usage: crd_test.sh /path/to/k3dpp-node
set -u

NODE_BIN=${1:?usage: crd_test.sh /path/to/k3dpp-node}
WORK=$(mktemp -d /tmp/k3dpp-crd-it.XXXXXX)
FAILURES=0
HERE=$(cd "$(dirname "$0")" && pwd)

source "$HERE/../../lib/host_server.sh"

cleanup() {
  host_server_stop
  if [[ $FAILURES -ne 0 ]]; then
    echo "--- server log (last 40 lines) ---"
    tail -n 40 "$WORK/server.log" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

host_server_start "$NODE_BIN" "$WORK" --no-kubelet --disable-controllers || { echo "FAIL: server did not become ready"; exit 1; }

normalize() {
  sed -E \
    -e 's/(^|[[:space:]])([0-9]+[smhdy])+([[:space:]]|$)/\1AGE\3/g' \
    -e 's/(^|[[:space:]])([0-9]+[smhdy])+([[:space:]]|$)/\1AGE\3/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g' \
    -e 's/[[:space:]]+$//' \
    -e 's/[[:space:]]+/ /g'
}

check() {
  local expected_rc=$1
  shift
  local expected
  expected=$(cat | normalize)
  echo "\$ $*"
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  local got
  got=$(printf '%s\n' "$out" | normalize)
  printf '%s\n' "$out"
  if [[ "$got" != "$expected" || $rc -ne $expected_rc ]]; then
    echo "FAIL (rc=$rc, want $expected_rc): output differs:"
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$got") | sed 's/^/    /'
    FAILURES=$((FAILURES + 1))
  fi
}

# check_grep RC PATTERN -- command: the output must contain PATTERN (fixed string).
check_grep() {
  local expected_rc=$1 pattern=$2
  shift 2
  echo "\$ $*"
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  if ! grep -qF -- "$pattern" <<<"$out" || [[ $rc -ne $expected_rc ]]; then
    echo "FAIL (rc=$rc, want $expected_rc): missing: $pattern"
    FAILURES=$((FAILURES + 1))
  fi
}

mkdir -p "$WORK/m"
cat >"$WORK/m/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs an image on a schedule.
        properties:
          spec:
            type: object
            description: What the cron tab runs.
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: The schedule, in cron format.
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            properties:
              replicas:
                type: integer
EOF

check 0 "${K[@]}" apply -f "$WORK/m/crd.yaml" <<'EOF'
customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created
EOF
check 0 "${K[@]}" wait --for condition=established --timeout=30s crd/crontabs.stable.example.com <<'EOF'
customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met
EOF
check 0 "${K[@]}" get crd <<'EOF'
NAME                          CREATED AT
crontabs.stable.example.com   2026-01-01T00:00:00Z
EOF

# objects: created, defaulted, listed with the printer columns, by short name and category
cat >"$WORK/m/ct.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
spec:
  cronSpec: "0 3 * * *"
  image: backup:1
EOF
check 0 "${K[@]}" apply -f "$WORK/m/ct.yaml" <<'EOF'
crontab.stable.example.com/nightly created
EOF
check 0 "${K[@]}" get ct <<'EOF'
NAME      SPEC        REPLICAS   AGE
nightly   0 3 * * *   1          1s
EOF
check_grep 0 "crontab.stable.example.com/nightly   0 3 * * *   1" "${K[@]}" get all

# unknown fields: refused with Strict (kubectl's default), pruned otherwise
cat >"$WORK/m/unknown.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: extra
spec:
  cronSpec: "* * * * */5"
  colour: blue
EOF
check 1 "${K[@]}" create -f "$WORK/m/unknown.yaml" <<EOF
Error from server (BadRequest): error when creating "$WORK/m/unknown.yaml": CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: unknown field "spec.colour"
EOF
check 0 "${K[@]}" create --validate=false -f "$WORK/m/unknown.yaml" <<'EOF'
crontab.stable.example.com/extra created
EOF
check 0 "${K[@]}" get ct extra -o 'jsonpath={.spec}' <<'EOF'
{"cronSpec":"* * * * */5","replicas":1}
EOF

# invalid objects: kubectl prints the server's message
cat >"$WORK/m/bad.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: bad
spec:
  cronSpec: "every day"
  replicas: 11
EOF
check 1 "${K[@]}" create -f "$WORK/m/bad.yaml" <<EOF
The CronTab "bad" is invalid: 
* spec.cronSpec: Invalid value: "every day": spec.cronSpec in body should match '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
* spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10
EOF

# status subresource: a controller-style client writes /status; the main resource ignores status
check 0 "${K[@]}" patch ct nightly --subresource=status --type=merge -p '{"status":{"replicas":1}}' <<'EOF'
crontab.stable.example.com/nightly patched
EOF
check 0 "${K[@]}" patch ct nightly --type=merge -p '{"status":{"replicas":7}}' <<'EOF'
crontab.stable.example.com/nightly patched (no change)
EOF
check 0 "${K[@]}" get ct nightly -o 'jsonpath={.status.replicas}' <<'EOF'
1
EOF

# scale subresource
check 0 "${K[@]}" scale ct nightly --replicas=3 <<'EOF'
crontab.stable.example.com/nightly scaled
EOF
check 0 "${K[@]}" get ct nightly -o 'jsonpath={.spec.replicas}' <<'EOF'
3
EOF

# kubectl explain reads the CRD's schema from OpenAPI v3
check_grep 0 "The schedule, in cron format." "${K[@]}" explain crontab.spec.cronSpec
check_grep 0 "<integer>" "${K[@]}" explain crontab.spec.replicas

# server-side apply: two managers, a conflict, --force-conflicts
cat >"$WORK/m/cm-alice.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
data:
  colour: blue
EOF
cat >"$WORK/m/cm-bob.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
data:
  colour: red
EOF
check 0 "${K[@]}" apply --server-side --field-manager=alice -f "$WORK/m/cm-alice.yaml" <<'EOF'
configmap/shared serverside-applied
EOF
check_grep 1 'error: Apply failed with 1 conflict: conflict with "alice": .data.colour' \
  "${K[@]}" apply --server-side --field-manager=bob -f "$WORK/m/cm-bob.yaml"
check 0 "${K[@]}" apply --server-side --field-manager=bob --force-conflicts -f "$WORK/m/cm-bob.yaml" <<'EOF'
configmap/shared serverside-applied
EOF
check 0 "${K[@]}" get cm shared -o 'jsonpath={.data.colour} {.metadata.managedFields[*].manager}' <<'EOF'
red bob
EOF
# and on a custom resource
check 0 "${K[@]}" apply --server-side -f "$WORK/m/ct.yaml" <<'EOF'
crontab.stable.example.com/nightly serverside-applied
EOF

# dry runs and kubectl diff
sed -e 's/0 3 \* \* \*/0 4 * * */' "$WORK/m/ct.yaml" >"$WORK/m/ct-4am.yaml"
check 0 "${K[@]}" apply --server-side --dry-run=server -f "$WORK/m/ct-4am.yaml" <<'EOF'
crontab.stable.example.com/nightly serverside-applied (server dry run)
EOF
check_grep 1 '+  cronSpec: 0 4 * * *' "${K[@]}" diff --server-side -f "$WORK/m/ct-4am.yaml"
check 0 "${K[@]}" get ct nightly -o 'jsonpath={.spec.cronSpec}' <<'EOF'
0 3 * * *
EOF

# several served versions (conversion None): an object answers in the version asked for
cat >"$WORK/m/multi.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.multi.example.com
spec:
  group: multi.example.com
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true,
      x-kubernetes-validations: [{rule: "has(self.anything)"}]}}}}
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}}
EOF
# (its CEL rule is stored but not evaluated: the server warns)
check_grep 0 'Warning: spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]: rule "has(self.anything)" is not evaluated' \
  "${K[@]}" create -f "$WORK/m/multi.yaml"
check 0 "${K[@]}" wait --for condition=established --timeout=30s crd/gadgets.multi.example.com <<'EOF'
customresourcedefinition.apiextensions.k8s.io/gadgets.multi.example.com condition met
EOF
printf 'apiVersion: multi.example.com/v1beta1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  anything: [1, 2]\n' >"$WORK/m/g1.yaml"
check 0 "${K[@]}" create -f "$WORK/m/g1.yaml" <<'EOF'
gadget.multi.example.com/g1 created
EOF
check 0 "${K[@]}" get gadgets.v1.multi.example.com g1 -o 'jsonpath={.apiVersion} {.spec.anything}' <<'EOF'
multi.example.com/v1 [1,2]
EOF
check 0 "${K[@]}" get gadgets.v1beta1.multi.example.com g1 -o 'jsonpath={.apiVersion}' <<'EOF'
multi.example.com/v1beta1
EOF

# invalid CRDs are refused with Kubernetes' messages
sed -e 's/name: crontabs.stable.example.com/name: crontab.stable.example.com/' "$WORK/m/crd.yaml" >"$WORK/m/badname.yaml"
check 1 "${K[@]}" create -f "$WORK/m/badname.yaml" <<'EOF'
The CustomResourceDefinition "crontab.stable.example.com" is invalid: metadata.name: Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group
EOF

# deleting the CRD deletes its objects and stops serving the kind
check 0 "${K[@]}" delete crd crontabs.stable.example.com <<'EOF'
customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted
EOF
# a client with fresh discovery no longer finds the kind
check 1 "${K[@]}" --cache-dir "$WORK/cache-after" get crontabs <<'EOF'
error: the server doesn't have a resource type "crontabs"
EOF
# served again: the old objects are gone
check 0 "${K[@]}" apply -f "$WORK/m/crd.yaml" <<'EOF'
customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created
EOF
check 0 "${K[@]}" wait --for condition=established --timeout=30s crd/crontabs.stable.example.com <<'EOF'
customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met
EOF
check 0 "${K[@]}" get ct <<'EOF'
No resources found in default namespace.
EOF

# a real multi-kind bundle no one here wrote: cert-manager's six CRDs (server-side, as its docs
# advise: they are too big for client-side apply's annotation), then objects of its kinds
CM="$HERE/testdata/cert-manager"
CRDS=()
for f in "$CM"/*cert-manager.io_*.yaml; do CRDS+=(-f "$f"); done
# (certificates carries a CEL rule: stored, not evaluated, and the server says so)
check_grep 0 'rule "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0) + (has(self.ngts) ? 1 : 0) == 1" is not evaluated' \
  "${K[@]}" apply --server-side "${CRDS[@]}"
check 0 "${K[@]}" get crd -o name <<'EOF'
customresourcedefinition.apiextensions.k8s.io/certificaterequests.cert-manager.io
customresourcedefinition.apiextensions.k8s.io/certificates.cert-manager.io
customresourcedefinition.apiextensions.k8s.io/challenges.acme.cert-manager.io
customresourcedefinition.apiextensions.k8s.io/clusterissuers.cert-manager.io
customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com
customresourcedefinition.apiextensions.k8s.io/gadgets.multi.example.com
customresourcedefinition.apiextensions.k8s.io/issuers.cert-manager.io
customresourcedefinition.apiextensions.k8s.io/orders.acme.cert-manager.io
EOF
check 0 "${K[@]}" wait --for condition=established --timeout=30s crd/certificates.cert-manager.io crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io <<'EOF'
customresourcedefinition.apiextensions.k8s.io/certificates.cert-manager.io condition met
customresourcedefinition.apiextensions.k8s.io/issuers.cert-manager.io condition met
customresourcedefinition.apiextensions.k8s.io/clusterissuers.cert-manager.io condition met
EOF
check 0 "${K[@]}" apply -f "$CM/objects.yaml" <<'EOF'
issuer.cert-manager.io/selfsigned created
clusterissuer.cert-manager.io/ca created
certificate.cert-manager.io/web-tls created
EOF
check_grep 0 "web-tls" "${K[@]}" get certs
check_grep 0 "ca" "${K[@]}" get clusterissuers
check_grep 1 'spec.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519"' \
  "${K[@]}" apply -f "$CM/bad-certificate.yaml"

if [[ $FAILURES -ne 0 ]]; then
  echo "$FAILURES check(s) FAILED"
  exit 1
fi
echo "all checks passed"
