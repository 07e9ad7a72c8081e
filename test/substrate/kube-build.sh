# Sourced by provision-node.sh. kube_build DIR CMD...: builds k8s.io/kubernetes/cmd/<CMD> at v$KUBE_VERSION into
# DIR/bin (staged in DIR.tmp, DIR/.complete when done), with the recipe of provision-kube.sh: a throwaway module
# requiring k8s.io/kubernetes, every staging module its go.mod pins at v0.0.0 replaced by the published
# v0.<minor>.<patch> (list read from that go.mod), CGO off, -trimpath, version ldflags (the binaries report
# v$KUBE_VERSION, not v0.0.0). Uses the Go module and build caches that provision-kube.sh filled.
# Needs: KUBE_VERSION, CACHE; go and python3 on PATH.

kill_tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done; kill "$1" 2>/dev/null || true; }

# mod_json FILE KEY: a field of a `go mod download -json` answer (fails with the module error, if any)
mod_json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit("go: "+d["Error"]) if d.get("Error") else print(d.get(sys.argv[2]) or (d.get("Origin") or {}).get(sys.argv[2], ""))' "$1" "$2"; }

kube_build() {
  local dir="$1"; shift
  local tmp="$dir.tmp" kv="$KUBE_VERSION" m n=0 pkgs=() gets=() ld="-s -w"
  rm -rf "$tmp"; mkdir -p "$tmp/work" "$tmp/bin"
  ( cd "$tmp/work"
    go mod download -json "k8s.io/kubernetes@v$kv" >../module.json
    local gomod minor commit built
    gomod="$(mod_json ../module.json GoMod)"
    minor="$(cut -d. -f2 <<<"$kv")"
    commit="$(mod_json ../module.json Hash)"
    built="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"].replace("+00:00","Z"))' "$(mod_json ../module.json Info)")"
    go mod init local/k8snodebuild >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v$kv"
    for m in $(grep -E '^[[:space:]]+k8s\.io/[^ ]+ v0\.0\.0( |$)' "$gomod" | awk '{print $1}' | sort -u); do
      go mod edit -replace="$m=$m@v0.${kv#1.}"; n=$((n + 1))
    done
    ((n > 0)) || { echo "no staging modules in $gomod" >&2; exit 1; }
    for m in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$m"); gets+=("k8s.io/kubernetes/cmd/$m@v$kv"); done
    go get "${gets[@]}"
    for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $m.gitVersion=v$kv -X $m.gitMajor=1 -X $m.gitMinor=$minor -X $m.gitTreeState=clean -X $m.buildDate=$built"
      [[ -n "$commit" ]] && ld+=" -X $m.gitCommit=$commit"
    done
    go build -trimpath -ldflags "$ld" -o "$tmp/bin/" "${pkgs[@]}"
    for m in "$@"; do
      [[ "$("$tmp/bin/$m" --version)" == "Kubernetes v$kv" ]] || { echo "$m reports $("$tmp/bin/$m" --version)" >&2; exit 1; }
    done
  ) || return 1
  rm -rf "$tmp/work" "$tmp/module.json" "$dir"; mv "$tmp" "$dir"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/.complete"
}
