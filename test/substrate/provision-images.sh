#!/usr/bin/env bash
# Builds the images the real node runs (never pulled: no container registry is reachable), as OCI archives keyed
# by version, and a containerd root holding all of them that every real node starts from (a hard-linked copy):
#   learnflow.test/pause:<busybox>     the pod sandbox image: busybox-static's sleep
#   learnflow.test/busybox:<busybox>   busybox-static with every applet, for the substrate's own test pods
#   the kit's images, under the exact references of k8s/versions.json (read at every run):
#     postgres:<v>       Debian trixie postgresql-<major of v> + images/postgres/docker-entrypoint.sh
#   postgres:<major>.<minor>  the same from another Debian suite's older major (upgrade-from.env): the upgrade tests'
#     apache/kafka:<v>   Debian trixie openjdk-21-jre-headless + the Kafka <v> jars (Maven) + images/kafka/*
#   apache/kafka:<v> of each version the upgrade tests start from (upgrade-from.env), built the same way; listed in
#   images.env as kafka_upgrade_from=<ref>
#     redis:<v>          Debian bookworm redis-server + images/redis/docker-entrypoint.sh
# Debian root filesystems come from mmdebstrap with the machine's own apt sources (same mirror, other suites).
# Cache ($CACHE = ${LEARNFLOW_TEST_CACHE:-~/.cache/learnflow-test}):
#   rootfs-<name>-<recipe hash>/rootfs.tar           Debian part of an image (mmdebstrap), the slow step
#   image-<name>-<version>-<recipe hash>/image.tar   the OCI archive
#   node-containerd-<hash of all images>/root        containerd root with every image imported and unpacked
#   node-containerd -> node-containerd-<hash>        what real nodes use; images.env lists the references
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the run too

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMG="$HERE/images"
CACHE="${LEARNFLOW_TEST_CACHE:-$HOME/.cache/learnflow-test}"
LOGS="$CACHE/logs"
T0=$SECONDS
log() { printf '[%s] provision-images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$CACHE" "$LOGS"
exec 9>"$CACHE/.provision-images.lock"
if ! flock -n 9; then log "another provisioning run holds $CACHE/.provision-images.lock; waiting"; flock 9; fi

pin() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v["image"] + ":" + v["version"])' "$REPO/k8s/versions.json" "$1"; }
KAFKA_REF="$(pin kafka)" POSTGRES_REF="$(pin postgres)" REDIS_REF="$(pin redis)"
KAFKA_V="${KAFKA_REF##*:}" POSTGRES_V="${POSTGRES_REF##*:}" REDIS_V="${REDIS_REF##*:}"
PG_MAJOR="${POSTGRES_V%%.*}"
# shellcheck source=upgrade-from.env
. "$HERE/upgrade-from.env"
BUSYBOX_V="$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null)" || die "busybox-static is not installed (provision-node.sh installs it)"
BUSYBOX_TAG="$(sed -E 's/^[0-9]+://; s/[^A-Za-z0-9_.-]+/-/g' <<<"$BUSYBOX_V")"
PAUSE_REF="learnflow.test/pause:$BUSYBOX_TAG"
BUSYBOX_REF="learnflow.test/busybox:$BUSYBOX_TAG"

# docker.io normalisation, as the CRI plugin does it for the kubelet's image names
full_ref() {
  local r="$1"
  if [[ "$r" == */* && ( "${r%%/*}" == *.* || "${r%%/*}" == *:* || "${r%%/*}" == localhost ) ]]; then echo "$r"; return; fi
  [[ "$r" == */* ]] || r="library/$r"
  echo "docker.io/$r"
}

# The machine's Debian mirror (and its security mirror) from its apt sources; no host name is written anywhere.
mirrors() {
  python3 - <<'EOF'
import glob, re
main = sec = None
def take(uri, suites, comps):
    global main, sec
    if "main" not in comps: return
    for s in suites:
        if s.endswith("-security"): sec = sec or uri
        elif re.fullmatch(r"[a-z]+", s): main = main or uri
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(f).read().split("\n\n"):
        kv = dict((m.group(1).lower(), m.group(2).split()) for m in re.finditer(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
        if "deb" in kv.get("types", []) and kv.get("uris") and "debian" in " ".join(kv.get("signed-by", ["debian"])):
            take(kv["uris"][0], kv.get("suites", []), kv.get("components", []))
for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try: lines = open(f).read().splitlines()
    except OSError: continue
    for line in lines:
        w = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
        if len(w) >= 4 and w[0] == "deb": take(w[1], [w[2]], w[3:])
if not main: raise SystemExit("no Debian mirror in the apt sources")
print(main.rstrip("/"), (sec or "").rstrip("/"))
EOF
}
read -r MIRROR SECURITY_MIRROR < <(mirrors) || die "cannot find the Debian mirror in /etc/apt/sources*"

hash_of() { sha256sum | cut -c1-12; } # stdin -> short hash
# prune PREFIX KEEP: drop the superseded builds PREFIX<other hash> (older recipes), keep KEEP
prune() { local d; for d in "$1"*; do [[ "$d" == "$2" || ! -d "$d" || ! "${d#"$1"}" =~ ^[0-9a-f]{12}(\.tmp)?$ ]] || rm -rf "$d"; done; }

# ---------------------------------------------------------------- Debian root filesystems (mmdebstrap)
# Recipes: suite, packages, and a customize hook run on the host with the root filesystem as $1.
postgres_recipe() { # SUITE MAJOR: Debian's postgresql-MAJOR of that suite
  local major="$2"
  SUITE="$1"
  PACKAGES="postgresql-$major locales gosu libnss-wrapper xz-utils zstd"
  HOOK='set -e
    r="$1"; chroot "$r" id postgres >/dev/null
    o_uid=$(chroot "$r" id -u postgres); o_gid=$(chroot "$r" id -g postgres)
    chroot "$r" groupmod -g 999 postgres; chroot "$r" usermod -u 999 -g 999 -s /bin/bash postgres
    chroot "$r" find / -xdev -uid "$o_uid" -exec chown -h 999 {} +; chroot "$r" find / -xdev -gid "$o_gid" -exec chgrp -h 999 {} +
    rm -rf "$r/etc/postgresql/'"$major"'" "$r/var/lib/postgresql/'"$major"'"
    chroot "$r" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '"'"'*'"'"'!" "$r/usr/share/postgresql/'"$major"'/postgresql.conf.sample"
    grep -q "^listen_addresses = '"'"'\*'"'"'" "$r/usr/share/postgresql/'"$major"'/postgresql.conf.sample"
    mkdir -p "$r/var/run/postgresql" "$r/docker-entrypoint-initdb.d" "$r/var/lib/postgresql/data"
    chown 999:999 "$r/var/run/postgresql" "$r/var/lib/postgresql/data"; chmod 3777 "$r/var/run/postgresql"; chmod 1777 "$r/var/lib/postgresql/data"
    chroot "$r" dpkg-query -W -f="\${Version}" postgresql-'"$major"' >"$r/.learnflow-pg-version"'
}
recipe_postgres() { postgres_recipe trixie "$PG_MAJOR"; }
# The upgrade-from image: the major before the pin that Debian serves in another suite (bookworm: 15), for the
# major-version upgrade tests; the two majors prove the mechanism, they need not be adjacent.
recipe_postgres-from() { postgres_recipe "$FROM_PG_SUITE" "$FROM_PG_MAJOR"; }
recipe_kafka() {
  SUITE=trixie
  PACKAGES="openjdk-21-jre-headless"
  HOOK='set -e
    r="$1"; chroot "$r" useradd -m -u 1000 -U -s /bin/bash appuser
    rm -rf "$r/var/cache/apt/archives/"*.deb'
}
recipe_redis() {
  SUITE=bookworm
  PACKAGES="redis-server gosu"
  HOOK='set -e
    r="$1"; o_uid=$(chroot "$r" id -u redis); o_gid=$(chroot "$r" id -g redis)
    chroot "$r" groupmod -g 999 redis; chroot "$r" usermod -u 999 -g 999 redis
    chroot "$r" find / -xdev -uid "$o_uid" -exec chown -h 999 {} +; chroot "$r" find / -xdev -gid "$o_gid" -exec chgrp -h 999 {} +
    rm -f "$r/etc/redis/redis.conf"
    mkdir -p "$r/data"; chown 999:999 "$r/data"
    chroot "$r" dpkg-query -W -f="\${Version}" redis-server >"$r/.learnflow-redis-version"'
}

# rootfs NAME -> prints the path of its rootfs.tar (built when missing)
rootfs() {
  local name="$1" SUITE PACKAGES HOOK key dir
  "recipe_$name"
  key="$(printf '%s\n' "$SUITE" "$PACKAGES" "$HOOK" "$MIRROR" | hash_of)"
  dir="$CACHE/rootfs-$name-$key"
  if [[ ! -f "$dir/.complete" ]]; then
    log "$name: building the Debian $SUITE root filesystem with mmdebstrap ($PACKAGES; log $LOGS/rootfs-$name.log)"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    local sources=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
    [[ -n "$SECURITY_MIRROR" ]] && sources+=("deb $SECURITY_MIRROR $SUITE-security main")
    if ! mmdebstrap --mode=root --variant=minbase --format=tar --include="${PACKAGES// /,}" \
        --aptopt='Acquire::Retries "3"' --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' --essential-hook='mkdir -p "$1/usr/share/man/man1"' \
        --customize-hook="$HOOK" --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
        "$SUITE" "$dir.tmp/rootfs.tar" "${sources[@]}" >"$LOGS/rootfs-$name.log" 2>&1; then
      tail -n 30 "$LOGS/rootfs-$name.log" >&2; die "mmdebstrap failed for $name (full log: $LOGS/rootfs-$name.log)"
    fi
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; date -u +%FT%TZ >"$dir/.complete"
  fi
  prune "$CACHE/rootfs-$name-" "$dir"
  echo "$dir/rootfs.tar"
}

# ---------------------------------------------------------------- image layers of our own
# layer_tar DIR OUT: a reproducible tar of DIR's content (owners as they are in DIR)
layer_tar() { tar -C "$1" --sort=name --mtime=@0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$2" .; }

busybox_layer() { # $1 = staging dir
  local s="$1" a
  mkdir -p "$s/bin" "$s/etc" "$s/tmp" "$s/root"
  cp /bin/busybox "$s/bin/busybox"
  for a in $("$s/bin/busybox" --list); do [[ "$a" == busybox ]] || ln -s busybox "$s/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$s/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$s/etc/group"
  chmod 1777 "$s/tmp"
}

kafka_libs() { # prints a dir with the broker's jars plus the kafka-tools jars (the CLI tools)
  local base="$CACHE/kafka-$KAFKA_V" dir="$CACHE/kafka-image-libs-$KAFKA_V"
  [[ -f "$base/.complete" ]] || die "kafka $KAFKA_V jars missing: provision-data.sh resolves them ($base)"
  if [[ ! -f "$dir/.complete" ]]; then
    local log4j binding
    log4j="$(sed -n 's/^log4j=//p' "$base/.complete")"; binding="$(sed -n 's/^binding=//p' "$base/.complete")"
    [[ -n "$log4j" && -n "$binding" ]] || die "$base/.complete names no log4j version"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    python3 - "$dir.tmp/pom.xml" "$KAFKA_V" "$log4j" "$binding" <<'EOF'
import sys
out, kafka, log4j, binding = sys.argv[1:]
deps = [("org.apache.kafka", "kafka_2.13", kafka), ("org.apache.kafka", "kafka-tools", kafka),
        ("org.apache.logging.log4j", "log4j-api", log4j), ("org.apache.logging.log4j", "log4j-core", log4j),
        ("org.apache.logging.log4j", binding, log4j)]
d = "".join(f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>" for g, a, v in deps)
open(out, "w").write(f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by test/substrate/provision-images.sh: the jars of the Kafka image stand-in. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>local.learnflow.test</groupId><artifactId>kafka-image-libs</artifactId><version>{kafka}</version>
<packaging>pom</packaging><dependencies>{d}</dependencies></project>
""")
EOF
    mvn -B -q -f "$dir.tmp/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir.tmp/libs" \
      </dev/null >"$LOGS/kafka-image-libs-$KAFKA_V.log" 2>&1 || { tail -n 20 "$LOGS/kafka-image-libs-$KAFKA_V.log" >&2; die "mvn could not resolve the Kafka $KAFKA_V tools"; }
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; date -u +%FT%TZ >"$dir/.complete"
  fi
  echo "$dir/libs"
}

# Tool scripts: the first class of each line found in the jars gets a wrapper; '!' marks a tool the image must have.
KAFKA_TOOLS='
!kafka-storage.sh kafka.tools.StorageTool
!kafka-topics.sh org.apache.kafka.tools.TopicCommand
!kafka-console-producer.sh org.apache.kafka.tools.ConsoleProducer
!kafka-console-consumer.sh org.apache.kafka.tools.consumer.ConsoleConsumer
!kafka-consumer-groups.sh org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
!kafka-configs.sh org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand
!kafka-metadata-quorum.sh org.apache.kafka.tools.MetadataQuorumCommand
!kafka-broker-api-versions.sh org.apache.kafka.tools.BrokerApiVersionsCommand
kafka-get-offsets.sh org.apache.kafka.tools.GetOffsetShell
kafka-features.sh org.apache.kafka.tools.FeatureCommand
kafka-cluster.sh org.apache.kafka.tools.ClusterTool
kafka-acls.sh org.apache.kafka.tools.AclCommand kafka.admin.AclCommand
kafka-log-dirs.sh org.apache.kafka.tools.LogDirsCommand
kafka-delete-records.sh org.apache.kafka.tools.DeleteRecordsCommand
kafka-leader-election.sh org.apache.kafka.tools.LeaderElectionCommand
kafka-reassign-partitions.sh org.apache.kafka.tools.reassign.ReassignPartitionsCommand
kafka-dump-log.sh org.apache.kafka.tools.DumpLogSegments kafka.tools.DumpLogSegments
kafka-metadata-shell.sh org.apache.kafka.shell.MetadataShell
kafka-producer-perf-test.sh org.apache.kafka.tools.ProducerPerformance
kafka-consumer-perf-test.sh org.apache.kafka.tools.ConsumerPerformance
kafka-transactions.sh org.apache.kafka.tools.TransactionsCommand
kafka-client-metrics.sh org.apache.kafka.tools.ClientMetricsCommand
kafka-groups.sh org.apache.kafka.tools.GroupsCommand
kafka-share-groups.sh org.apache.kafka.tools.consumer.group.ShareGroupCommand
kafka-streams-application-reset.sh org.apache.kafka.tools.StreamsResetter
'

kafka_layer() { # $1 = staging dir
  local s="$1" libs line name cls found
  libs="$(kafka_libs)"
  mkdir -p "$s/opt/kafka/bin" "$s/opt/kafka/libs" "$s/opt/kafka/config" "$s/opt/kafka/logs" "$s/etc/kafka/docker" "$s/etc/kafka/secrets" \
    "$s/var/lib/kafka/data" "$s/mnt/shared/config" "$s/usr/local/bin"
  cp "$libs"/*.jar "$s/opt/kafka/libs/"
  install -m 0755 "$IMG/kafka/run" "$s/etc/kafka/docker/run"
  install -m 0755 "$IMG/kafka/kafka-run-class.sh" "$IMG/kafka/kafka-server-start.sh" "$s/opt/kafka/bin/"
  python3 -c 'import sys, zipfile, glob
names = set()
for j in glob.glob(sys.argv[1] + "/*.jar"):
    names.update(n[:-6].replace("/", ".") for n in zipfile.ZipFile(j).namelist() if n.endswith(".class"))
print("\n".join(sorted(names)))' "$s/opt/kafka/libs" >"$s.classes"
  while read -r name cls; do
    [[ -n "$name" ]] || continue
    found=""
    for c in $cls; do grep -qxF "$c" "$s.classes" && { found="$c"; break; }; done
    if [[ -z "$found" ]]; then [[ "$name" == '!'* ]] && die "kafka $KAFKA_V: none of $cls in the jars (for ${name#!})"; continue; fi
    printf '#!/bin/sh\n# Written by test/substrate/provision-images.sh.\nexec "$(dirname "$0")/kafka-run-class.sh" %s "$@"\n' "$found" >"$s/opt/kafka/bin/${name#!}"
    chmod 0755 "$s/opt/kafka/bin/${name#!}"
  done <<<"$KAFKA_TOOLS"
  rm -f "$s.classes"
  chown -R 1000:1000 "$s/opt/kafka/config" "$s/opt/kafka/logs" "$s/var/lib/kafka/data" "$s/etc/kafka/secrets" "$s/mnt/shared/config"
  kafka_cds "$s"
}

# The class-data sharing archives the official image ships and its launch script uses: /opt/kafka/storage.jsa for the
# storage format, /opt/kafka/kafka.jsa for the broker. Made the way its build makes them, each dumped at exit by the
# JVM (-XX:ArchiveClassesAtExit): a storage format, then a broker booted once and stopped. Here that runs as appuser in
# a chroot of the image itself (its Debian root plus this layer), since an archive maps only into the JVM and class
# path it was dumped from. About 15 s per Kafka version; a broker then starts with about a third less CPU.
kafka_cds() ( # $1 = staging dir; a subshell, so that its trap unmounts /proc whatever happens
  local s="$1" r port cport pid=""
  r="$(mktemp -d "${TMPDIR:-/tmp}/learnflow-kafka-cds-XXXXXX")"
  trap '[[ -z "$pid" ]] || kill -KILL "$pid" 2>/dev/null; wait; umount "$r/proc" 2>/dev/null || true; rm -rf "$r"' EXIT
  tar -xf "$(rootfs kafka)" -C "$r"
  cp -a "$s/." "$r/"
  touch -d @0 "$r"/opt/kafka/libs/*.jar # as layer_tar writes them: the JVM checks each jar's mtime against the archive
  mount -t proc proc "$r/proc" # the JVM finds its own libraries through /proc/self/exe
  read -r port cport < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for x in ss: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in ss))')
  mkdir -p "$r/tmp/cds"
  printf '%s\n' process.roles=broker,controller node.id=1 "controller.quorum.voters=1@127.0.0.1:$cport" \
    "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" "advertised.listeners=PLAINTEXT://127.0.0.1:$port" \
    controller.listener.names=CONTROLLER inter.broker.listener.name=PLAINTEXT \
    listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT log.dirs=/tmp/cds/data \
    offsets.topic.replication.factor=1 transaction.state.log.replication.factor=1 transaction.state.log.min.isr=1 \
    >"$r/tmp/cds/server.properties"
  chown -R 1000:1000 "$r/tmp/cds"
  local appuser=(chroot --userspec=1000:1000 "$r" env -i PATH=/usr/bin:/bin JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64)
  "${appuser[@]}" KAFKA_JVM_PERFORMANCE_OPTS=-XX:ArchiveClassesAtExit=/tmp/cds/storage.jsa \
    /opt/kafka/bin/kafka-storage.sh format --cluster-id 5L6g3nShT-eMCtK--X86sw -c /tmp/cds/server.properties \
    >"$LOGS/kafka-cds-$KAFKA_V.log" 2>&1 || die "kafka $KAFKA_V: the storage format for its archive failed (log $LOGS/kafka-cds-$KAFKA_V.log)"
  # Logging as the image's run script configures it at every start (YAML, to stdout); in the chroot only.
  printf '%s\n' 'Configuration:' '  Appenders:' '    Console: {name: STDOUT, target: SYSTEM_OUT, PatternLayout: {pattern: "%m%n"}}' \
    '  Loggers:' '    Root: {level: INFO, AppenderRef: [{ref: STDOUT}]}' >"$r/opt/kafka/config/log4j2.yaml"
  "${appuser[@]}" KAFKA_JVM_PERFORMANCE_OPTS=-XX:ArchiveClassesAtExit=/tmp/cds/kafka.jsa KAFKA_HEAP_OPTS=-Xmx512m \
    /opt/kafka/bin/kafka-server-start.sh /tmp/cds/server.properties >>"$LOGS/kafka-cds-$KAFKA_V.log" 2>&1 &
  pid=$! # chroot, env and the start scripts exec: this is the JVM
  for _ in $(seq 1 120); do # up to 60 s for the broker to answer on its port
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  sleep 3 # the rest of its start (the image's build also sends it a message; this one only boots it)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true # the archive is written as the JVM exits
  pid=""
  [[ -s "$r/tmp/cds/storage.jsa" && -s "$r/tmp/cds/kafka.jsa" ]] \
    || die "kafka $KAFKA_V: no class-data sharing archive was written (log $LOGS/kafka-cds-$KAFKA_V.log)"
  install -m 0644 "$r/tmp/cds/storage.jsa" "$r/tmp/cds/kafka.jsa" "$s/opt/kafka/"
  log "kafka $KAFKA_V: class-data sharing archives written (storage.jsa, kafka.jsa)"
)

postgres_layer() {
  local s="$1"; mkdir -p "$s/usr/local/bin" "$s/run/postgresql"
  chown 999:999 "$s/run/postgresql"; chmod 3777 "$s/run/postgresql" # mmdebstrap empties /run
  install -m 0755 "$IMG/postgres/docker-entrypoint.sh" "$s/usr/local/bin/docker-entrypoint.sh"
  ln -s usr/local/bin/docker-entrypoint.sh "$s/docker-entrypoint.sh"
}

postgres-from_layer() { postgres_layer "$@"; }

redis_layer() {
  local s="$1"; mkdir -p "$s/usr/local/bin"
  install -m 0755 "$IMG/redis/docker-entrypoint.sh" "$s/usr/local/bin/docker-entrypoint.sh"
  ln -s /usr/bin/redis-server "$s/usr/local/bin/redis-server"
  ln -s /usr/bin/redis-cli "$s/usr/local/bin/redis-cli"
}

PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
config_json() { # NAME -> the image config (Entrypoint, Cmd, Env, ...)
  case "$1" in
    pause) echo '{"Entrypoint":["/bin/sleep","infinity"],"User":"65535:65535","Env":["PATH=/bin"]}' ;;
    busybox) echo '{"Cmd":["sh"],"Env":["PATH=/bin"]}' ;;
    postgres | postgres-from)
      local major="$PG_MAJOR"; [[ "$1" == postgres ]] || major="$FROM_PG_MAJOR"
      printf '{"Entrypoint":["docker-entrypoint.sh"],"Cmd":["postgres"],"Env":["%s:/usr/lib/postgresql/%s/bin","PG_MAJOR=%s","PG_VERSION=%s","PGDATA=/var/lib/postgresql/data","LANG=en_US.utf8"],"StopSignal":"SIGINT","ExposedPorts":{"5432/tcp":{}},"Volumes":{"/var/lib/postgresql/data":{}}}' \
        "$PATH_ENV" "$major" "$major" "$(tar -xOf "$(rootfs "$1")" ./.learnflow-pg-version)" ;;
    kafka)
      printf '{"Cmd":["/etc/kafka/docker/run"],"User":"appuser","WorkingDir":"/","Env":["%s","JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64"],"ExposedPorts":{"9092/tcp":{}},"Volumes":{"/etc/kafka/secrets":{},"/var/lib/kafka/data":{},"/mnt/shared/config":{}}}' "$PATH_ENV" ;;
    redis)
      printf '{"Entrypoint":["docker-entrypoint.sh"],"Cmd":["redis-server"],"WorkingDir":"/data","Env":["%s"],"ExposedPorts":{"6379/tcp":{}},"Volumes":{"/data":{}}}' "$PATH_ENV" ;;
  esac
}

# image NAME REF VERSION -> prints "REF ARCHIVE" after building the archive when missing
image() {
  local name="$1" ref="$2" version="$3" base="" layerfn key dir stage
  case "$name" in pause|busybox) layerfn=busybox_layer ;; *) layerfn="${name}_layer"; base="$(rootfs "$name")" ;; esac
  key="$( { declare -f "$layerfn" config_json; echo "$base"; if [[ -d "$IMG/${name%-from}" ]]; then cat "$IMG/${name%-from}"/*; fi
            cat "$IMG/oci-archive.py"; echo "$(full_ref "$ref") $BUSYBOX_V"; if [[ "$name" == kafka ]]; then echo "$KAFKA_TOOLS"; declare -f kafka_cds; fi; } | hash_of)"
  dir="$CACHE/image-$name-$version-$key"
  if [[ ! -f "$dir/.complete" ]]; then
    log "$name: writing the OCI archive for $ref"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"; stage="$dir.tmp/stage"; mkdir -p "$stage"
    "$layerfn" "$stage"
    layer_tar "$stage" "$dir.tmp/layer.tar"; rm -rf "$stage"
    config_json "$name" >"$dir.tmp/config.json"
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$dir.tmp/config.json" || die "$name: bad image config"
    python3 "$IMG/oci-archive.py" "$dir.tmp/image.tar" --ref "$(full_ref "$ref")" --config "$dir.tmp/config.json" \
      ${base:+"$base"} "$dir.tmp/layer.tar" >"$dir.tmp/digest"
    rm -f "$dir.tmp/layer.tar"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; date -u +%FT%TZ >"$dir/.complete"
  fi
  prune "$CACHE/image-$name-$version-" "$dir"
  echo "$(full_ref "$ref") $dir/image.tar $(cat "$dir/digest")"
}

IMAGES=()
add_image() { local e; e="$(image "$@")"; IMAGES+=("$1 $e"); }
add_image pause "$PAUSE_REF" "$BUSYBOX_TAG"
add_image busybox "$BUSYBOX_REF" "$BUSYBOX_TAG"
add_image postgres "$POSTGRES_REF" "$POSTGRES_V"
# postgres:<major>.<minor> of the Debian package (15.20-0+deb12u1 -> 15.20); images.env names it postgres_from
FROM_PG_V="$(tar -xOf "$(rootfs postgres-from)" ./.learnflow-pg-version | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')"
[[ "$FROM_PG_V" == "$FROM_PG_MAJOR".* ]] || die "postgres-from: Debian $FROM_PG_SUITE gave postgresql-$FROM_PG_MAJOR version '$FROM_PG_V'"
add_image postgres-from "postgres:$FROM_PG_V" "$FROM_PG_V"
add_image kafka "$KAFKA_REF" "$KAFKA_V"
for v in $KAFKA_UPGRADE_FROM; do
  [[ "$v" != "$KAFKA_V" ]] || continue
  # KAFKA_V as kafka_libs and kafka_layer read it, for this build only (a prefix assignment on a function call).
  KAFKA_V="$v" add_image kafka "${KAFKA_REF%:*}:$v" "$v"
  IMAGES[-1]="kafka_upgrade_from ${IMAGES[-1]#kafka }"
done
add_image redis "$REDIS_REF" "$REDIS_V"

# ---------------------------------------------------------------- the containerd root every real node copies
key="$(printf '%s\n' "${IMAGES[@]}" "$(containerd --version)" | hash_of)"
GOLD="$CACHE/node-containerd-$key"
if [[ ! -f "$GOLD/.complete" ]]; then
  log "importing ${#IMAGES[@]} images into a fresh containerd root ($GOLD)"
  rm -rf "$GOLD.tmp"; mkdir -p "$GOLD.tmp/root"
  state="$(mktemp -d /run/learnflow-ctrd-import-XXXXXX)"
  cat >"$state/config.toml" <<EOF
version = 2
root = "$GOLD.tmp/root"
state = "$state/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$state/containerd.sock"
EOF
  containerd --config "$state/config.toml" >"$LOGS/node-containerd-import.log" 2>&1 &
  ctrd=$!
  trap 'kill "$ctrd" 2>/dev/null || true; rm -rf "$state"' EXIT
  for _ in $(seq 100); do [[ -S "$state/containerd.sock" ]] && break; sleep 0.1; done
  [[ -S "$state/containerd.sock" ]] || die "containerd did not start (log $LOGS/node-containerd-import.log)"
  for entry in "${IMAGES[@]}"; do
    read -r name ref archive _ <<<"$entry"
    ctr --address "$state/containerd.sock" -n k8s.io images import "$archive" >>"$LOGS/node-containerd-import.log" 2>&1 \
      || die "ctr images import $archive failed (log $LOGS/node-containerd-import.log)"
    # Listed into a variable first: `ctr ... | grep -q` under pipefail fails when grep stops reading early (SIGPIPE).
    listed="$(ctr --address "$state/containerd.sock" -n k8s.io images ls -q)"
    grep -qxF "$ref" <<<"$listed" || die "$ref missing after the import of $archive"
  done
  kill "$ctrd"; wait "$ctrd" 2>/dev/null || true; trap - EXIT; rm -rf "$state"
  for entry in "${IMAGES[@]}"; do read -r name ref _ digest <<<"$entry"; printf '%s=%s\n' "${name//-/_}" "$ref"; done >"$GOLD.tmp/images.env" # sourced: names with _
  rm -rf "$GOLD"; mv "$GOLD.tmp" "$GOLD"; date -u +%FT%TZ >"$GOLD/.complete"
fi
ln -sfn "$(basename "$GOLD")" "$CACHE/node-containerd"
prune "$CACHE/node-containerd-" "$GOLD" # real nodes running from an older one keep their hard links

for entry in "${IMAGES[@]}"; do read -r name ref _ digest <<<"$entry"; printf 'image %s %s\n' "$ref" "$digest"; done
log "done in $((SECONDS - T0)) s"
