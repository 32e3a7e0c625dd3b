#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL 15 for tests: loopback only, its own folder, no password
# on the socket-less TCP port (trust for 127.0.0.1 only). Prints the database URL on start.
#
#   scripts/throwaway-postgres.sh start DIR [PORT]   -> echoes postgresql+psycopg://...
#   scripts/throwaway-postgres.sh stop DIR
#
# For tests the server skips what only protects against a power cut (fsync, synchronous commit,
# full-page writes). PG_DURABLE=1 keeps them on, as a production server runs (the benchmarks
# measure both: make bench-pg, make bench-pg PG_DURABLE=1).
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?start|stop}
dir=${2:?data folder}
port=${3:-55432}
if [ "${PG_DURABLE:-0}" = "1" ]; then
  durability=""
else
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi

run_as_postgres() {
  # initdb and postgres refuse to run as root: use a dedicated account.
  if [ "$(id -u)" = "0" ]; then
    id nightpos_pg >/dev/null 2>&1 || useradd --system --no-create-home nightpos_pg
    chown -R nightpos_pg "$dir"
    su nightpos_pg -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      mkdir -p "$dir/data" "$dir/run"
      run_as_postgres "'$PG_BIN/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >'$dir/initdb.log' 2>&1"
    fi
    run_as_postgres "'$PG_BIN/pg_ctl' -D '$dir/data' -l '$dir/postgres.log' -w -t 60 \
      -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir/run' $durability -c max_connections=200\" start >/dev/null"
    for db in nightpos_test; do
      "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
        || "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $db" >/dev/null
    done
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/nightpos_test"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && run_as_postgres "'$PG_BIN/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null" || true
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
