#!/bin/sh
# Entrypoint of the test substrate's stand-in for the official `redis` image (Debian's redis-server).
# Written for this project from the image's documented interface (its Docker Hub description):
#   `redis-server [CONFIG_FILE] [--option value]...`; a first argument that is a flag or a *.conf file gets
#   redis-server put in front; any other command runs as given; started as root, it hands /data to the redis
#   user (uid 999) and drops to it; protected mode is off unless the configuration or the arguments set it.
set -eu

case "${1:-}" in
  -* | *.conf) set -- redis-server "$@" ;;
  "") set -- redis-server ;;
esac

if [ "$1" = redis-server ]; then
  # Protected mode off by default, as in the official image (whose server is built with that default):
  # only when neither the arguments nor a configuration file given as the first argument mention it.
  mentioned=no
  for a in "$@"; do [ "$a" = --protected-mode ] && mentioned=yes; done
  if [ $# -ge 2 ] && [ -f "$2" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$2"; then mentioned=yes; fi
  [ "$mentioned" = no ] && set -- "$@" --protected-mode no
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
    exec gosu redis "$@"
  fi
fi
exec "$@"
