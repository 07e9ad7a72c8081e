// Fake docker, kind, minikube, k3d, kubectl and helm: small shell scripts in a folder that is the whole PATH of
// the kit's child process (with sh, bash, env, mkdir, cat and rm linked in), each recording its argv to a log and
// answering like the real tool would. tar is the system's, behind a script that records its argv too. What the
// fakes answer is steered by FAKE_* variables (see each script).
//
// The kit runs from a copy (scripts/, k8s/, sql/, package.json; node_modules linked), so what a script writes
// into its own .learnflow/ (load FILE unpacks the Dapr chart there) never lands in the working tree.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, runKit, type CliResult } from './cli.js';

const SYSTEM = ['sh', 'bash', 'env', 'mkdir', 'cat', 'rm'];

/** minikube image load / k3d image import: succeed, and say their version. */
function imageLoader(tool: string, version: string): string {
  return `
case "$1" in
  version) echo "${version}"; exit 0 ;;
  image) exit 0 ;;
esac
echo "fake ${tool}: unexpected: $*" >&2; exit 64`;
}

const FAKES: Record<string, string> = {
  docker: `
case "$1 $2" in
  "info --format"|"info -f")
    if [ -n "$FAKE_DOCKER_DOWN" ]; then echo '{"ServerErrors":["Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"]}'; exit 1; fi
    case "$FAKE_DOCKER_STORE" in
      containerd) echo '{"Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"Architecture":"'"\${FAKE_DOCKER_ARCH:-x86_64}"'"}' ;;
      *) echo '{"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]],"Architecture":"'"\${FAKE_DOCKER_ARCH:-x86_64}"'"}' ;;
    esac
    exit 0 ;;
  "version --format") echo 29.0.1; exit 0 ;;
  "image inspect")
    for a in "$@"; do img="$a"; done
    case " $FAKE_DOCKER_HAVE " in *" $img "*) echo sha256:0123; exit 0 ;; esac
    echo "Error response from daemon: No such image: $img" >&2; exit 1 ;;
  "image save")
    out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; img="$a"; done
    printf 'fake image %s\\n' "$img" > "$out"; exit 0 ;;
esac
case "$1" in
  pull)
    for a in "$@"; do img="$a"; done
    case " $FAKE_PULL_FAIL " in *" $img "*) echo "Error response from daemon: manifest for $img not found" >&2; exit 1 ;; esac
    echo "Status: Downloaded newer image for $img"; exit 0 ;;
  load) echo "Loaded image"; exit 0 ;;
esac
echo "fake docker: unexpected: $*" >&2; exit 64`,
  kind: `
case "$1" in
  version) echo "kind v0.30.0 go1.24 linux/amd64"; exit 0 ;;
  load)
    for a in "$@"; do case " $FAKE_LOAD_FAIL " in *" $a "*) echo "ERROR: failed to load image: command failed" >&2; exit 1 ;; esac; done
    exit 0 ;;
esac
echo "fake kind: unexpected: $*" >&2; exit 64`,
  minikube: imageLoader('minikube', 'v1.37.0'),
  k3d: imageLoader('k3d', 'k3d version v5.8.3'),
  kubectl: `
[ "$1" = "--context" ] && shift 2
case "$1 $2" in
  "config current-context")
    if [ -n "$FAKE_CONTEXT" ]; then echo "$FAKE_CONTEXT"; exit 0; fi
    echo "error: current-context is not set" >&2; exit 1 ;;
  "get nodes")
    if [ -n "$FAKE_NODE_ARCH" ]; then printf '%s' "$FAKE_NODE_ARCH"; exit 0; fi
    echo "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?" >&2; exit 1 ;;
  "config get-contexts") echo "$FAKE_CONTEXT"; exit 0 ;;
  "config view") echo "$FAKE_CONTEXT https://127.0.0.1:6443"; exit 0 ;;
esac
echo "fake kubectl: unexpected: $*" >&2; exit 64`,
  helm: `
case "$1" in
  version) echo v3.19.0; exit 0 ;;
  template) exit 0 ;;
  pull)
    dir=""; ver=""; prev=""; for a in "$@"; do [ "$prev" = "--untardir" ] && dir="$a"; [ "$prev" = "--version" ] && ver="$a"; prev="$a"; done
    if [ -n "$FAKE_HELM_OFFLINE" ]; then echo "Error: looks like the repository is not reachable" >&2; exit 1; fi
    mkdir -p "$dir/dapr/charts" || exit 1
    printf 'apiVersion: v2\\nname: dapr\\nversion: %s\\n' "$ver" > "$dir/dapr/Chart.yaml"
    printf 'global:\\n  registry: ghcr.io/dapr\\n' > "$dir/dapr/values.yaml"
    exit 0 ;;
esac
echo "fake helm: unexpected: $*" >&2; exit 64`,
};

export interface Sandbox {
  /** The copy of the kit: its scripts, k8s/, sql/, package.json. */
  kit: string;
  /** Scratch space for the test's own files. */
  tmp: string;
  /** Runs an entry script of the copy with PATH = only the fakes named (and the system tools above). */
  run(script: string, args: string[], opts?: { tools?: readonly string[]; env?: Record<string, string> }): Promise<CliResult & { calls: string[] }>;
  remove(): void;
}

export function sandbox(): Sandbox {
  const tmp = mkdtempSync(path.join(tmpdir(), 'learnflow-images-'));
  const kit = path.join(tmp, 'kit');
  for (const p of ['scripts', 'k8s', 'sql', 'package.json', 'tsconfig.json'])
    if (existsSync(path.join(REPO, p))) cpSync(path.join(REPO, p), path.join(kit, p), { recursive: true });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(kit, 'node_modules'));
  const which = (b: string) =>
    execFileSync('sh', ['-c', `command -v ${b}`])
      .toString()
      .trim();
  const system = Object.fromEntries(SYSTEM.map((b) => [b, which(b)]));
  const realTar = which('tar');
  let runs = 0;
  return {
    kit,
    tmp,
    async run(script, args, opts = {}) {
      const bin = path.join(tmp, `bin-${++runs}`);
      mkdirSync(bin);
      for (const [b, real] of Object.entries(system)) symlinkSync(real, path.join(bin, b));
      const log = path.join(bin, 'calls.log');
      writeFileSync(log, '');
      const record = (tool: string) =>
        `#!/bin/sh\nprintf '%s' '${tool}' >> "$FAKE_LOG"; for a in "$@"; do printf ' %s' "$a" >> "$FAKE_LOG"; done; echo >> "$FAKE_LOG"\n`;
      for (const tool of opts.tools ?? Object.keys(FAKES)) writeFileSync(path.join(bin, tool), `${record(tool)}${FAKES[tool]}\n`, { mode: 0o755 });
      writeFileSync(path.join(bin, 'tar'), `${record('tar')}exec ${realTar} "$@"\n`, { mode: 0o755 });
      const env = { PATH: bin, FAKE_LOG: log, HOME: tmp, KUBECONFIG: path.join(tmp, 'kubeconfig'), ...opts.env };
      const r = await runKit(path.relative(REPO, path.join(kit, script)), args, { env, timeoutMs: 90_000 });
      return { ...r, calls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
    },
    remove: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

/** The recorded calls minus the read-only look-ups (versions, docker info, the context, node architecture). */
export function changes(calls: readonly string[]): string[] {
  return calls.filter((c) => !/^(\S+ version|\S+ --version|docker info|kubectl (config|get nodes)|docker image inspect|tar -xOf)/.test(c));
}
