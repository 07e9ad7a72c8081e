#!/bin/bash
# Entrypoint of the test substrate's stand-in for the official `postgres` image (Debian's postgresql-<major>).
# Written for this project from the image's documented interface (its Docker Hub description):
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres),
#   POSTGRES_DB (default: POSTGRES_USER), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD
#   (default scram-sha-256), PGDATA, the *_FILE variants of the four secrets, /docker-entrypoint-initdb.d
#   (*.sh run or sourced, *.sql / *.sql.gz / *.sql.xz / *.sql.zst fed to psql) on an empty data directory only,
#   arguments starting with '-' passed to postgres, any other command run as given, root dropped to postgres.
# Local connections keep initdb's default authentication (trust for the socket and 127.0.0.1/::1 unless
# POSTGRES_INITDB_ARGS says --auth/--auth-local/--auth-host); every other address gets
# `host all all all $POSTGRES_HOST_AUTH_METHOD`. During initialisation the server listens on the socket only.
set -Eeo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }

# VAR / VAR_FILE: one of them, not both; the file's content wins when given.
from_file() {
  local var="$1" def="${2:-}" file="${1}_FILE"
  if [[ -n "${!var:-}" && -n "${!file:-}" ]]; then log "error: both $var and $file are set (they are exclusive)"; exit 1; fi
  local val="$def"
  if [[ -n "${!var:-}" ]]; then val="${!var}"; elif [[ -n "${!file:-}" ]]; then val="$(<"${!file}")"; fi
  export "$var"="$val"
  unset "$file"
}

# initdb needs the running uid in /etc/passwd: give an unknown uid one through nss_wrapper.
with_passwd_entry() {
  if id -un >/dev/null 2>&1; then "$@"; return; fi
  local dir; dir="$(mktemp -d)"
  printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$dir/passwd"
  printf 'postgres:x:%s:\n' "$(id -g)" >"$dir/group"
  LD_PRELOAD="$(find /usr/lib -name libnss_wrapper.so | head -n1)" NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group" "$@"
  rm -rf "$dir"
}

prepare_dirs() { # as root: create and hand over the directories postgres writes
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA" 2>/dev/null || true
  chmod 03775 /var/run/postgresql 2>/dev/null || true
  [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]] && mkdir -p "$POSTGRES_INITDB_WALDIR"
  if [[ "$(id -u)" == 0 ]]; then
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chown postgres:postgres /var/run/postgresql
    [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]] && find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres:postgres '{}' +
  fi
  return 0
}

run_initdb() {
  local pw rc=0
  pw="$(mktemp)" # the password never appears in a command line
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
  local args=(-D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pw")
  if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then args+=(--waldir "$POSTGRES_INITDB_WALDIR"); fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words by definition
  with_passwd_entry initdb "${args[@]}" $POSTGRES_INITDB_ARGS || rc=$?
  rm -f "$pw"
  return "$rc"
}

psql_init() { # psql over the socket as the superuser, stopping at the first error
  PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

run_init_scripts() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
      *.sh)
        if [[ -x "$f" ]]; then log "running $f"; "$f"; else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) log "running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *.sql.xz) log "running $f"; xz -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *.sql.zst) log "running $f"; zstd -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *) log "ignoring $f" ;;
    esac
  done
}

initialise() { # "$@" = the postgres arguments (also given to the temporary server)
  if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    cat >&2 <<'EOF'
Error: the database is uninitialized and the superuser password is not specified.
  Set POSTGRES_PASSWORD to a non-empty value for the superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow
  every connection without a password (not recommended).
EOF
    exit 1
  fi
  [[ "$POSTGRES_HOST_AUTH_METHOD" == trust ]] && log "warning: POSTGRES_HOST_AUTH_METHOD=trust: every host may connect without a password"
  run_initdb
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  local port="${PGPORT:-5432}"
  shift # "postgres"
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -w -o "$(printf '%q ' "$@") -c listen_addresses='' -p $port" start
  export PGPORT="$port"
  if [[ "$POSTGRES_DB" != postgres ]]; then
    local exists
    exists="$(psql_init --dbname postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${POSTGRES_DB//\'/\'\'}'")"
    [[ "$exists" == 1 ]] || psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  run_init_scripts
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
  log "PostgreSQL init process complete; ready for start up."
}

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi

# Anything but the server (or the server's --help/--version style flags) runs as given.
if [[ "${1:-}" != postgres ]] || [[ "${2:-}" =~ ^(-C|--describe-config|-V|--version|--help|-\?)$ ]]; then
  exec "$@"
fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
from_file POSTGRES_PASSWORD
from_file POSTGRES_USER postgres
from_file POSTGRES_DB "$POSTGRES_USER"
from_file POSTGRES_INITDB_ARGS
export POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

prepare_dirs
if [[ "$(id -u)" == 0 ]]; then exec gosu postgres "${BASH_SOURCE[0]}" "$@"; fi

if [[ -s "$PGDATA/PG_VERSION" ]]; then
  log "PostgreSQL database directory appears to contain a database; skipping initialization"
else
  initialise "$@"
fi
exec "$@"
