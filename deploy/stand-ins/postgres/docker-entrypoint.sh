#!/bin/sh
# First start of the server: create the cluster in $PGDATA, the POSTGRES_USER
# superuser with POSTGRES_PASSWORD, and POSTGRES_DB; then run the command as PID 1.
# Other commands (psql, pg_dump, postgres --version) run as they are.
set -eu

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  user=${POSTGRES_USER:-postgres}
  database=${POSTGRES_DB:-$user}
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --username="$user" --pwfile="$password_file" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
  rm -f "$password_file"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # The set-up server listens on a private socket only, so that pg_isready (the
  # health check) does not report ready before the database exists.
  setup_socket=$(mktemp -d)
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$setup_socket" \
    start >/dev/null
  if [ "$database" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -h "$setup_socket" -U "$user" -d postgres -q \
      -c "CREATE DATABASE \"$database\""
  fi
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  rmdir "$setup_socket"
  echo "docker-entrypoint.sh: created database $database owned by $user"
fi

exec "$@"
