#!/usr/bin/env bash
# Builds the Dapr conformance test binary (the Go module in test/conformance: components-contrib's
# tests/conformance pubsub and state suites with the pubsub.kafka and state.postgresql v2 code daprd loads) and
# copies upstream's suite settings (tests/config/{pubsub,state}/tests.yml of the same module version) next to it.
#   $CACHE/dapr-conformance-<contrib version>-<source hash>/conformance.test
#   $CACHE/dapr-conformance-<contrib version>-<source hash>/upstream-config/{pubsub,state}/tests.yml
# The hash covers go.mod, go.sum and the *.go files, so an edited test is rebuilt, never run stale. A warm run
# only checks the .complete marker. go.sum is complete: the build runs with -mod=readonly.
#   --check   print the directory when it is built and current, else say how to build it and exit 1 (no build)
# Used by test/conformance/dapr-conformance.test.ts; called by provision.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MOD="$(cd "$HERE/../conformance" && pwd)"
CACHE="${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}"
LOGS="$CACHE/logs"
CONTRIB=github.com/dapr/components-contrib

log() { printf '[%s] provision-conformance: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The components-contrib version from go.mod's require line (no go command needed for --check).
VERSION="$(awk -v m="$CONTRIB" '$1 == m && $2 ~ /^v[0-9]/ {print substr($2, 2); exit}' "$MOD/go.mod")"
[[ -n "$VERSION" ]] || die "no $CONTRIB requirement in $MOD/go.mod"
HASH="$(cd "$MOD" && LC_ALL=C ls go.mod go.sum *.go | xargs sha256sum | sha256sum | cut -c1-12)"
DIR="$CACHE/dapr-conformance-$VERSION-$HASH"

complete() { [[ -f "$DIR/.complete" && -x "$DIR/conformance.test" && -f "$DIR/upstream-config/pubsub/tests.yml" && -f "$DIR/upstream-config/state/tests.yml" ]]; }

if [[ "${1:-}" == "--check" ]]; then
  complete || { echo "the Dapr conformance binary for test/conformance (components-contrib $VERSION, sources $HASH) is not built: run test/substrate/provision.sh (or provision-conformance.sh)" >&2; exit 1; }
  printf '%s\n' "$DIR"
  exit 0
fi

command -v go >/dev/null || die "go is missing (the conformance suites are Go tests; install Go $(sed -n 's/^go //p' "$MOD/go.mod") or newer)"
mkdir -p "$CACHE" "$LOGS"
exec 9>"$CACHE/.provision-conformance.lock"
if ! flock -n 9; then
  log "another provisioning run holds $CACHE/.provision-conformance.lock; waiting"
  flock 9
fi

build() {
  local tmp="$DIR.tmp" src
  rm -rf "$tmp"
  mkdir -p "$tmp/upstream-config/pubsub" "$tmp/upstream-config/state"
  cd "$MOD"
  export GOFLAGS="-buildvcs=false -mod=readonly" GOTOOLCHAIN=local CGO_ENABLED=0
  go test -c -trimpath -o "$tmp/conformance.test" .
  src="$(go list -m -f '{{.Dir}}' "$CONTRIB")"
  [[ -n "$src" && -d "$src/tests/config" ]] || { echo "module $CONTRIB has no tests/config in '$src'" >&2; return 1; }
  cp "$src/tests/config/pubsub/tests.yml" "$tmp/upstream-config/pubsub/tests.yml"
  cp "$src/tests/config/state/tests.yml" "$tmp/upstream-config/state/tests.yml"
  chmod -R u+w "$tmp/upstream-config" # the module cache is read-only
  "$tmp/conformance.test" -test.list '.*' >"$tmp/tests.txt"
  grep -qx TestPubsubConformance "$tmp/tests.txt" && grep -qx TestStateConformance "$tmp/tests.txt" || { echo "the binary lists no conformance tests" >&2; return 1; }
  rm -rf "$DIR"; mv "$tmp" "$DIR"; date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/.complete"
}

T0=$SECONDS
if complete; then
  log "dapr conformance (components-contrib $VERSION, sources $HASH): cached"
else
  logfile="$LOGS/dapr-conformance-$VERSION.log"
  log "dapr conformance (components-contrib $VERSION, sources $HASH): building the test binary (cold: 3-7 min on 2 cores, downloads included; log $logfile)"
  ( build ) >"$logfile" 2>&1 &
  pid=$!
  # On abort, stop the build and the go processes it started (only this process tree).
  kill_tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done; kill "$1" 2>/dev/null || true; }
  trap 'kill_tree "$pid"' EXIT
  trap 'exit 130' INT TERM
  if ! wait "$pid"; then trap - EXIT; tail -n 30 "$logfile" >&2; die "building the conformance binary failed (full log: $logfile)"; fi
  trap - EXIT
  log "dapr conformance: built in $((SECONDS - T0)) s"
fi
printf 'dapr-conformance components-contrib v%s (%s)\n' "$VERSION" "$DIR"
