#!/bin/sh
# The official image compiles Redis with protected mode off: without a config file or
# a password, protected mode refuses every client that is not on loopback, which in a
# container is every client. Debian's build keeps it on, so turn it off here (last, so
# that a config file stays the first argument), unless the command sets it itself.
set -eu
if [ "${1:-}" = redis-server ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"
