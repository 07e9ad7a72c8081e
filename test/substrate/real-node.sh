#!/usr/bin/env bash
# One REAL Kubernetes node (kubelet + containerd + runc + CNI bridge + kube-proxy + CoreDNS) for a KWOK-started
# control plane on this machine. test/support/real-node.ts drives it; it also runs by hand:
#
#   real-node.sh start --cluster NAME --pki DIR --api-port PORT --owner PID [--node-name N] [--service-cidr C]
#                      [--volumes N]            prints KEY=value lines (SLOT, NODE_IP, POD_CIDR, ...) on stdout
#   real-node.sh stop SLOT                      kills everything of that node, removes its namespace, links, dirs
#   real-node.sh reap                           stops the nodes whose owner process is gone
#   real-node.sh exec SLOT CMD...               runs CMD in the node's network namespace (iptables -L, ...)
#
# Layout of node SLOT (0..7), nothing shared with another node or with the machine's own network:
#   network namespace lf-node-SLOT; a veth pair: lfnSLOTh (host, 10.90.SLOT.1/30) <-> eth0 (node, 10.90.SLOT.2/30 =
#   the node IP); no default route in it; bridge cni0 10.91.SLOT.1/24 (the pods, no masquerade); the mangle table's
#   FORWARD drops anything from the pods to an address outside the pod and Service ranges. The API server
#   (127.0.0.1 only) is reached through socat on 10.90.SLOT.1:<api port>. The machine keeps one blackhole route for
#   10.90.0.0/15 so that traffic for a stopped node's addresses never leaves it.
#   kubelet, containerd, kube-proxy and CoreDNS run in that network namespace AND in a private mount namespace
#   (so every mount they make, pod volumes and rootfs overlays included, goes away with them); pods' cgroups
#   under /lf-node-SLOT in every cgroup v1 hierarchy.
#   $CACHE/real-nodes/lf-node-SLOT   configs, certificates, logs, containerd root (hard-linked copy of the one
#                                    provision-images.sh filled), kubelet root, volume directories (mode 0777)
#   /run/learnflow-real-node/SLOT    sockets, containerd state, pids, owner
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}"
RUN_ROOT=/run/learnflow-real-node
SLOTS=8
# shellcheck source=versions.env
source "$HERE/versions.env"
NODE_BIN="$CACHE/kube-node-$KUBE_VERSION/bin"
COREDNS="$CACHE/coredns-$COREDNS_VERSION/bin/coredns"
GOLD="$CACHE/node-containerd"

log() { printf '[%s] real-node: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

slot_vars() { # SLOT -> the names and addresses of that slot
  S="$1"
  NETNS="lf-node-$S"
  HOST_IF="lfn${S}h"
  HOST_IP="10.90.$S.1"
  NODE_IP="10.90.$S.2"
  POD_CIDR="10.91.$S.0/24"
  POD_GW="10.91.$S.1"
  CGROUP="lf-node-$S"
  NODE_DIR="$CACHE/real-nodes/lf-node-$S"
  STATE="$RUN_ROOT/$S"
}

in_ns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# start time (field 22 of /proc/PID/stat, counted after the command name, which may hold spaces): tells a reused
# pid from the owner
proc_start() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
owner_alive() { # STATE -> 0 when the recorded owner process still runs
  local pid start
  read -r pid start 2>/dev/null <"$1/owner" || return 1
  [[ -n "$pid" && -d "/proc/$pid" && "$(proc_start "$pid")" == "$start" ]]
}

# ------------------------------------------------------------------------------------------------ stop / reap
pids_of_node() { # everything in the node's network namespace and in its pods' cgroups
  { ip netns pids "$NETNS" 2>/dev/null || true
    [[ -d "/sys/fs/cgroup/pids/$CGROUP" ]] && find "/sys/fs/cgroup/pids/$CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null
    true; } | sort -un
}

stop_slot() {
  slot_vars "$1"
  local pid i left
  # socat: only the one this node started (its pid file, and its command line naming this node's address)
  if read -r pid 2>/dev/null <"$STATE/socat.pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "bind=$HOST_IP,"; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true # its group: the forked connections too
  fi
  for i in $(seq 1 100); do
    left="$(pids_of_node)"
    [[ -z "$left" ]] && break
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    sleep 0.1
  done
  [[ -z "$(pids_of_node)" ]] || log "warning: processes of $NETNS still alive: $(pids_of_node | tr '\n' ' ')"
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ -d "$c$CGROUP" ]] && find "$c$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  ip netns del "$NETNS" 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  rm -rf "$NODE_DIR" "$STATE"
}

reap() {
  local s
  for ((s = 0; s < SLOTS; s++)); do
    slot_vars "$s"
    [[ -e "/run/netns/$NETNS" || -d "$STATE" || -d "/sys/fs/cgroup/pids/$CGROUP" || -d "$NODE_DIR" ]] || continue
    owner_alive "$STATE" && continue
    # A slot being set up has its owner file within a second; leave young ones alone.
    if [[ ! -f "$STATE/owner" && -e "/run/netns/$NETNS" ]] && (($(date +%s) - $(stat -c %Y "/run/netns/$NETNS") < 120)); then continue; fi
    log "reaping $NETNS (owner gone)"
    stop_slot "$s"
    echo "$NETNS"
  done
}

# ------------------------------------------------------------------------------------------------ start
kubeconfig() { # FILE CERT KEY
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kwok
  cluster:
    server: https://$HOST_IP:$API_PORT
    certificate-authority: $PKI/ca.crt
    tls-server-name: localhost
users:
- name: user
  user:
    client-certificate: $2
    client-key: $3
contexts:
- name: kwok
  context: {cluster: kwok, user: user}
current-context: kwok
EOF
}

sign() { # NAME SUBJECT EXTENSIONS: NAME.key + NAME.crt signed by the cluster CA
  local d="$NODE_DIR/pki"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$1.key" -subj "$2" \
    -out "$d/$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$d/$1.ext"
  openssl x509 -req -in "$d/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
    -days 30 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
  rm -f "$d/$1.csr" "$d/$1.ext"
}

write_configs() {
  local d="$NODE_DIR"
  mkdir -p "$d/pki" "$d/logs" "$d/cni-conf" "$d/ipam" "$d/var-lib-cni" "$d/container-logs" "$d/pod-logs" "$d/kubelet" "$d/volumes"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  sign kube-proxy "/CN=system:kube-proxy" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  kubeconfig "$d/kubelet.kubeconfig" "$d/pki/kubelet-client.crt" "$d/pki/kubelet-client.key"
  kubeconfig "$d/kube-proxy.kubeconfig" "$d/pki/kube-proxy.crt" "$d/pki/kube-proxy.key"
  kubeconfig "$d/coredns.kubeconfig" "$PKI/admin.crt" "$PKI/admin.key"

  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd"
state = "$STATE/containerd"
[grpc]
  address = "$STATE/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE here: without this every sandbox fails writing a negative oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni-conf"
    max_conf_num = 1
EOF

  cat >"$d/cni-conf/10-learnflow.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "learnflow-real-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$d/ipam", "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$POD_GW" }]] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

  : >"$d/resolv.conf" # pods get the cluster DNS only, nothing of the machine's resolver
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true, cacheTTL: 10s}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
  webhook: {cacheAuthorizedTTL: 10s, cacheUnauthorizedTTL: 5s}
tlsCertFile: $d/pki/kubelet-serving.crt
tlsPrivateKeyFile: $d/pki/kubelet-serving.key
containerRuntimeEndpoint: unix://$STATE/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
resolvConf: $d/resolv.conf
podLogsDir: $d/pod-logs
registerWithTaints:
- {key: learnflow.test/real-node, value: "true", effect: NoSchedule}
maxPods: 110
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
shutdownGracePeriod: 0s
EOF

  cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $d/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: [$NODE_IP/32]
iptables: {masqueradeAll: false, localhostNodePorts: false, syncPeriod: 10s, minSyncPeriod: 0s}
# 0: leave the namespace's conntrack settings alone (they are not writable from here)
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF

  cat >"$d/Corefile" <<EOF
# cluster.local only: no forwarding, nothing leaves the node. Other names: REFUSED.
cluster.local:53 {
    bind $NODE_IP
    errors
    log . "{remote} {type} {name} {rcode} {duration}"
    kubernetes cluster.local {
        kubeconfig $d/coredns.kubeconfig kwok
        ttl 5
    }
    cache 5
}
EOF
}

setup_network() {
  ip link add "$HOST_IF" type veth peer name "lfn${S}n"
  ip link set "lfn${S}n" netns "$NETNS"
  ip addr add "$HOST_IP/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  in_ns ip link set lo up
  in_ns ip link set "lfn${S}n" name eth0
  in_ns ip addr add "$NODE_IP/30" dev eth0
  in_ns ip link set eth0 up
  in_ns ip link add cni0 type bridge
  in_ns ip addr add "$POD_GW/24" dev cni0
  in_ns ip link set cni0 up
  in_ns sysctl -qw net.ipv4.ip_forward=1
  if in_ns test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1
  else
    die "br_netfilter has no per-namespace settings here: Service traffic between pods on the bridge would bypass kube-proxy's rules"
  fi
  # Pods reach pods and Services; everything else they send through the node is dropped (before kube-proxy's
  # filter rules, in a table kube-proxy leaves alone).
  in_ns iptables -w -t mangle -N LEARNFLOW-EGRESS
  in_ns iptables -w -t mangle -A LEARNFLOW-EGRESS -d "$POD_CIDR" -j RETURN
  in_ns iptables -w -t mangle -A LEARNFLOW-EGRESS -d "$SERVICE_CIDR" -j RETURN
  in_ns iptables -w -t mangle -A LEARNFLOW-EGRESS -j DROP
  in_ns iptables -w -t mangle -A FORWARD -s "$POD_CIDR" -j LEARNFLOW-EGRESS
  in_ns ip6tables -w -t mangle -A FORWARD -j DROP 2>/dev/null || true
  ip route show type blackhole | grep -q '^blackhole 10.90.0.0/15' || ip route add blackhole 10.90.0.0/15 2>/dev/null || true
}

setup_cgroups() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ "$c" == */unified/ ]] && continue
    mkdir -p "$c$CGROUP"
    if [[ -f "${c}cpuset.cpus" ]]; then cat "${c}cpuset.cpus" >"$c$CGROUP/cpuset.cpus"; cat "${c}cpuset.mems" >"$c$CGROUP/cpuset.mems"; fi
  done
}

start() {
  local cluster="" owner="" volumes=10
  NODE_NAME=real-node SERVICE_CIDR=10.96.0.0/16 PKI="" API_PORT=""
  while (($#)); do
    case "$1" in
      --cluster) cluster="$2"; shift 2 ;;
      --pki) PKI="$2"; shift 2 ;;
      --api-port) API_PORT="$2"; shift 2 ;;
      --owner) owner="$2"; shift 2 ;;
      --node-name) NODE_NAME="$2"; shift 2 ;;
      --service-cidr) SERVICE_CIDR="$2"; shift 2 ;;
      --volumes) volumes="$2"; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ -n "$cluster" && -n "$PKI" && -n "$API_PORT" && -n "$owner" ]] || die "start needs --cluster, --pki, --api-port and --owner"
  [[ "$(id -u)" == 0 ]] || die "a real node needs root (network namespaces, mounts, cgroups)"
  local missing=() f
  for f in "$NODE_BIN/kubelet" "$NODE_BIN/kube-proxy" "$COREDNS" /usr/bin/containerd /usr/bin/ctr /usr/sbin/runc \
           /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap /usr/sbin/iptables /usr/bin/socat; do
    [[ -x "$f" ]] || missing+=("$f")
  done
  [[ -f "$GOLD/.complete" ]] || missing+=("$GOLD/.complete")
  for f in ca.crt ca.key admin.crt admin.key; do [[ -f "$PKI/$f" ]] || missing+=("$PKI/$f"); done
  ((${#missing[@]} == 0)) || die "not provisioned (run: bash test/substrate/provision.sh): missing ${missing[*]}"
  PAUSE_IMAGE="$(sed -n 's/^pause=//p' "$GOLD/images.env")"

  reap >/dev/null
  mkdir -p "$RUN_ROOT"
  local s
  for ((s = 0; s < SLOTS; s++)); do
    ip netns add "lf-node-$s" 2>/dev/null && break
  done
  ((s < SLOTS)) || die "all $SLOTS real-node slots are taken (ip netns list)"
  slot_vars "$s"
  rm -rf "$STATE" "$NODE_DIR"; mkdir -p "$STATE" "$NODE_DIR"
  echo "$owner $(proc_start "$owner")" >"$STATE/owner"
  trap 'log "start failed: cleaning up $NETNS"; stop_slot "$S"' ERR

  setup_network
  write_configs
  setup_cgroups
  # The containerd root: a hard-linked copy of the provisioned one (committed layers are never written to),
  # with its own copies of the two databases.
  cp -al "$(readlink -f "$GOLD")/root" "$NODE_DIR/containerd"
  local db
  for db in io.containerd.metadata.v1.bolt/meta.db io.containerd.snapshotter.v1.overlayfs/metadata.db; do
    [[ -f "$NODE_DIR/containerd/$db" ]] && cp --remove-destination "$(readlink -f "$GOLD")/root/$db" "$NODE_DIR/containerd/$db"
  done
  local i
  for ((i = 0; i < volumes; i++)); do mkdir -p "$NODE_DIR/volumes/pv-$i"; chmod 0777 "$NODE_DIR/volumes/pv-$i"; done

  cat >"$STATE/info.env" <<EOF
SLOT=$S
NETNS=$NETNS
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
HOST_IP=$HOST_IP
POD_CIDR=$POD_CIDR
SERVICE_CIDR=$SERVICE_CIDR
DNS_IP=$NODE_IP
NODE_DIR=$NODE_DIR
STATE_DIR=$STATE
VOLUME_DIR=$NODE_DIR/volumes
LOG_DIR=$NODE_DIR/logs
CLUSTER=$cluster
EOF
  sed 's/^/IMAGE_/' "$GOLD/images.env" >>"$STATE/info.env"

  setsid socat "TCP-LISTEN:$API_PORT,bind=$HOST_IP,reuseaddr,fork" "TCP:127.0.0.1:$API_PORT" \
    >"$NODE_DIR/logs/socat.log" 2>&1 </dev/null &
  echo $! >"$STATE/socat.pid"
  mkdir -p /var/lib/cni /var/log/containers /run/containerd
  setsid unshare --mount --propagation slave -- nsenter --net="/run/netns/$NETNS" -- \
    bash "${BASH_SOURCE[0]}" supervise "$S" >"$NODE_DIR/logs/supervisor.log" 2>&1 </dev/null &
  echo $! >"$STATE/supervisor.pid"
  for i in $(seq 1 200); do
    [[ -f "$STATE/ready" ]] && break
    kill -0 "$(cat "$STATE/supervisor.pid")" 2>/dev/null || { tail -n 20 "$NODE_DIR/logs/"*.log >&2; die "the node's processes did not start"; }
    sleep 0.1
  done
  [[ -f "$STATE/ready" ]] || { tail -n 20 "$NODE_DIR/logs/"*.log >&2; die "containerd did not come up in 20 s"; }
  trap - ERR
  cat "$STATE/info.env"
}

# In the node's network namespace and a private mount namespace: containerd, kubelet, kube-proxy, CoreDNS.
supervise() {
  slot_vars "$1"
  # shellcheck disable=SC1091
  source "$STATE/info.env"
  local logs="$NODE_DIR/logs" pids=()
  # What these write at fixed host paths goes to this node's own directories instead.
  mount --bind "$NODE_DIR/var-lib-cni" /var/lib/cni
  mount --bind "$NODE_DIR/container-logs" /var/log/containers
  mount -t tmpfs -o mode=0711 tmpfs /run/containerd
  # The kubelet exits when renaming its pod-resources socket within this directory fails with "invalid cross-device
  # link" (seen once here; an upstream flake, k3s-io/k3s#4042). A tmpfs of its own, as kindcontainer does, avoids it.
  mkdir -p "$NODE_DIR/kubelet/pod-resources"
  mount -t tmpfs -o mode=0750 tmpfs "$NODE_DIR/kubelet/pod-resources"
  trap 'kill -TERM "${pids[@]}" 2>/dev/null; exit 0' TERM INT
  containerd --config "$NODE_DIR/containerd.toml" >"$logs/containerd.log" 2>&1 &
  pids+=($!)
  local i
  for i in $(seq 1 150); do [[ -S "$STATE/containerd.sock" ]] && break; sleep 0.1; done
  [[ -S "$STATE/containerd.sock" ]] || { echo "containerd socket missing" >&2; exit 1; }
  "$NODE_BIN/kubelet" --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$NODE_DIR/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "learnflow.test/node=real,type=real" --v=1 >"$logs/kubelet.log" 2>&1 &
  pids+=($!)
  "$NODE_BIN/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml" --v=1 >"$logs/kube-proxy.log" 2>&1 &
  pids+=($!)
  "$COREDNS" -conf "$NODE_DIR/Corefile" >"$logs/coredns.log" 2>&1 &
  pids+=($!)
  touch "$STATE/ready"
  local alive
  while ((${#pids[@]})); do
    wait -n "${pids[@]}" 2>/dev/null || true
    alive=()
    for i in "${pids[@]}"; do
      if kill -0 "$i" 2>/dev/null; then alive+=("$i"); else echo "$(date -u +%T) process $i ($(basename "$(readlink "/proc/$i/exe" 2>/dev/null || echo gone)")) exited" >&2; fi
    done
    pids=("${alive[@]}")
  done
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) [[ -n "${2:-}" ]] || die "usage: $0 stop SLOT"; stop_slot "$2" ;;
  reap) reap ;;
  exec) [[ -n "${2:-}" ]] || die "usage: $0 exec SLOT CMD..."; slot_vars "$2"; shift 2; in_ns "$@" ;;
  supervise) supervise "$2" ;;
  *) sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
