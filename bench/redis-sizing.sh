#!/usr/bin/env bash
# Benchmark (not a test): does the kit's Redis hold its sizing under its own limits? Runs the substrate's stand-in
# Redis (the Debian root filesystem test/substrate/provision-images.sh built, chrooted) with the kit's redis.conf in
# a cgroup v1 with the kit's CPU quota and memory limit (what the kubelet makes of `limits:`), fills it towards
# maxmemory with 1 KiB values while redis-benchmark measures latency with the component's pool size, and forces an
# append-only-file rewrite (a fork) in the middle. Prints the latency summary, the cgroup's throttling and its peak
# memory (the rewrite child counts too), and whether the server was OOM-killed.
# Needs root (cgroups, chroot). Usage:
#   bench/redis-sizing.sh [--cpu 250m] [--memory 256Mi] [--maxmemory 200mb] [--keys 150000] [--clients 10]
set -euo pipefail

CPU=250m MEMORY=256Mi MAXMEMORY=200mb KEYS=150000 CLIENTS=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) CPU="$2"; shift 2 ;;
    --memory) MEMORY="$2"; shift 2 ;;
    --maxmemory) MAXMEMORY="$2"; shift 2 ;;
    --keys) KEYS="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    *) echo "usage: $0 [--cpu 250m] [--memory 256Mi] [--maxmemory 200mb] [--keys N] [--clients N]" >&2; exit 2 ;;
  esac
done
CACHE="${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}"
ROOTFS_TAR="$(ls -d "$CACHE"/rootfs-redis-*/rootfs.tar 2>/dev/null | head -n 1)"
[[ -n "$ROOTFS_TAR" ]] || { echo "no stand-in Redis root filesystem under $CACHE: bash test/substrate/provision.sh" >&2; exit 3; }

millicpu() { [[ "$1" == *m ]] && echo "${1%m}" || echo $(($1 * 1000)); }
bytes() { case "$1" in *Mi) echo $((${1%Mi} * 1048576)) ;; *Gi) echo $((${1%Gi} * 1073741824)) ;; *) echo "$1" ;; esac; }

WORK="$(mktemp -d /tmp/lf-redis-sizing.XXXXXX)"
CG="lf-redis-sizing-$$"
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  [[ -f "$WORK/pid" ]] && kill "$(cat "$WORK/pid")" 2>/dev/null || true
  sleep 0.5
  for h in cpu memory; do
    [[ -d "/sys/fs/cgroup/$h/$CG" ]] && { cat "/sys/fs/cgroup/$h/$CG/cgroup.procs" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; sleep 0.2; rmdir "/sys/fs/cgroup/$h/$CG" 2>/dev/null || true; }
  done
  umount "$WORK/root/proc" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

mkdir -p "$WORK/root"
tar -xf "$ROOTFS_TAR" -C "$WORK/root"
mkdir -p "$WORK/root/data" "$WORK/root/etc/redis"
chown 999:999 "$WORK/root/data"
# The kit's redis.conf (k8s/dapr/redis.yaml), with a port of our own.
printf 'requirepass bench\nappendonly yes\ndir /data\nmaxmemory %s\nmaxmemory-policy noeviction\nport %s\nbind 127.0.0.1\n' \
  "$MAXMEMORY" "$PORT" >"$WORK/root/etc/redis/redis.conf"

for h in cpu memory; do mkdir -p "/sys/fs/cgroup/$h/$CG"; done
echo 100000 >"/sys/fs/cgroup/cpu/$CG/cpu.cfs_period_us"
echo $(($(millicpu "$CPU") * 100)) >"/sys/fs/cgroup/cpu/$CG/cpu.cfs_quota_us"
bytes "$MEMORY" >"/sys/fs/cgroup/memory/$CG/memory.limit_in_bytes"

# The server joins the cgroup before it starts (its rewrite child inherits it); the benchmark stays outside.
sh -c "echo \$\$ >/sys/fs/cgroup/cpu/$CG/cgroup.procs; echo \$\$ >/sys/fs/cgroup/memory/$CG/cgroup.procs; exec chroot --userspec=999:999 '$WORK/root' redis-server /etc/redis/redis.conf" \
  >"$WORK/redis.log" 2>&1 &
echo $! >"$WORK/pid"
cli() { chroot "$WORK/root" redis-cli -p "$PORT" -a bench --no-auth-warning "$@"; }
for _ in $(seq 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
cli ping >/dev/null

echo "limits: cpu $CPU (quota $(cat "/sys/fs/cgroup/cpu/$CG/cpu.cfs_quota_us")/100000 us), memory $MEMORY; maxmemory $MAXMEMORY; $CLIENTS clients; load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench() { chroot "$WORK/root" redis-benchmark -p "$PORT" -a bench -c "$CLIENTS" --csv "$@" 2>/dev/null | grep -v '^"test"'; }
echo '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"'
# 1. Steady state: small values on an almost empty server.
bench -t set,get -n 20000 -d 256 -r 10000
# 2. Filling towards maxmemory with 1 KiB values (state entries), an AOF rewrite forced half way. redis-benchmark
#    stops at the first error, so --keys should stay below what maxmemory holds (about 1.3 KiB a key).
set +e # from here on a dead server is a result, not an error
# The cgroup's peak usage counts the page cache the AOF writes leave (reclaimed at the limit): sample the memory the
# processes hold (rss + mapped files + shared memory, the server and its rewrite child) instead.
( peak=0; while [[ -d "/sys/fs/cgroup/memory/$CG" ]]; do
    now=$(awk '$1 == "total_rss" || $1 == "total_mapped_file" || $1 == "total_shmem" { n += $2 } END { print n + 0 }' "/sys/fs/cgroup/memory/$CG/memory.stat" 2>/dev/null || echo 0)
    ((now > peak)) && { peak=$now; echo "$peak" >"$WORK/rss-peak"; }
    sleep 0.05
  done ) &
( sleep 4; cli bgrewriteaof >/dev/null ) &
rewrite=$!
bench -t set -n "$KEYS" -d 1024 -r "$KEYS"
wait "$rewrite"
for _ in $(seq 100); do [[ "$(cli info persistence | sed -n 's/^aof_rewrite_in_progress:\([0-9]\).*/\1/p')" == 0 ]] && break; sleep 0.2; done
# 3. Reads and writes on the full server.
bench -t set,get -n 20000 -d 1024 -r "$KEYS"

echo "used_memory: $(cli info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p'), peak $(cli info memory | sed -n 's/^used_memory_peak_human:\(.*\)\r$/\1/p'), keys: $(cli dbsize)"
echo "aof rewrites: $(cli info persistence | sed -n 's/^aof_rewrites:\([0-9]*\).*/\1/p'), last fork $(cli info stats | sed -n 's/^latest_fork_usec:\([0-9]*\).*/\1/p') us, rejected writes (OOM) $(cli info errorstats | sed -n 's/^errorstat_OOM:count=\([0-9]*\).*/\1/p' | grep . || echo 0)"
stat() { awk -v k="$1" '$1 == k { print $2 }' "/sys/fs/cgroup/cpu/$CG/cpu.stat"; }
echo "cpu: $(stat nr_throttled) of $(stat nr_periods) periods throttled, $(($(stat throttled_time) / 1000000)) ms in all"
echo "memory: processes' peak $(($(cat "$WORK/rss-peak" 2>/dev/null || echo 0) / 1048576)) MiB of $MEMORY (with page cache $(($(cat "/sys/fs/cgroup/memory/$CG/memory.max_usage_in_bytes") / 1048576)) MiB), limit hit $(cat "/sys/fs/cgroup/memory/$CG/memory.failcnt") times, OOM kills $(sed -n 's/^oom_kill //p' "/sys/fs/cgroup/memory/$CG/memory.oom_control")"
kill -0 "$(cat "$WORK/pid")" 2>/dev/null && echo "server: running" || { echo "server: GONE"; tail -n 5 "$WORK/redis.log"; }
grep -h -E 'OOM|Killed|rewrite.*(terminated|failed)|Background AOF' "$WORK/redis.log" | tail -n 5 || true
