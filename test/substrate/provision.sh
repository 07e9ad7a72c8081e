#!/usr/bin/env bash
# Everything the tests need, from package registries only, cached under
# ${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}: idempotent, a warm run takes seconds.
#   provision-data.sh  PostgreSQL 15 (apt) and the Kafka jars of the pinned version (Maven)
#   provision-kube.sh  kube-apiserver/controller-manager/scheduler, etcd, KWOK, kubectl, helm, the Dapr chart
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/provision-data.sh"
bash "$here/provision-kube.sh"
