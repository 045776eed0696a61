# Start a throw-away PostgreSQL cluster on 127.0.0.1 and export SIMLAB_TEST_POSTGRES; stopped on exit.
# Installs Debian's postgresql package when no server is present and apt-get can; returns 1 otherwise.
start_postgres() {
  local bin dir port=54329 as=""
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] && command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql >/dev/null; } || return 1
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -n "$bin" ] || return 1
  dir=$(mktemp -d /tmp/simlab-pg.XXXXXX) || return 1
  if [ "$(id -u)" -eq 0 ]; then  # initdb refuses root: run the cluster as the postgres user
    id postgres >/dev/null 2>&1 || return 1
    chown postgres "$dir"
    as="runuser -u postgres --"
  fi
  $as "$bin/initdb" -D "$dir/data" -A trust -U simlab >"$dir/initdb.log" 2>&1 || return 1
  $as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || return 1
  export SIMLAB_TEST_POSTGRES="postgresql://simlab@127.0.0.1:$port/postgres"
  trap "$as '$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
}
