#!/usr/bin/env bash
# Everything the tests need, from package registries only, cached under
# ${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}: idempotent, a warm run takes seconds.
#   small tools        openssl (deploy-postgres --tls), curl (the Dapr probe script's tests)
#   provision-data.sh  PostgreSQL 15 (apt) and the Kafka jars of the pinned version (Maven)
#   provision-kube.sh  kube-apiserver/controller-manager/scheduler, etcd, KWOK, kubectl, helm, the Dapr chart
#   provision-conformance.sh  the Dapr conformance test binary (components-contrib suites, test/conformance)
#   provision-node.sh  the real node: containerd, runc, CNI plugins (apt), kubelet, kube-proxy, CoreDNS, and
#                      (provision-images.sh) the pause image and stand-ins for the kit's images
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

missing=()
for tool in openssl curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  [[ "$(id -u)" == 0 ]] || { echo "provision: missing ${missing[*]}; install them (apt-get install -y ${missing[*]})" >&2; exit 1; }
  echo "provision: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; }
fi

bash "$here/provision-data.sh"
bash "$here/provision-kube.sh"
bash "$here/provision-conformance.sh"
bash "$here/provision-node.sh"
