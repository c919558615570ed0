#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a directory, a random
# free port, the unix socket in that same directory, trust authentication, nothing installed.
#
#     DIR=$(mktemp -d)                      # short path: a socket path is limited to 107 bytes
#     tests/pg/cluster.sh start DIR         # prints postgres://postgres@/postgres?host=DIR&port=PORT
#     tests/pg/cluster.sh url DIR           # prints the same URL again
#     tests/pg/cluster.sh stop DIR          # stops the server and deletes DIR
#
# Why these choices:
# * The server refuses to run as root, so as root every server command runs as the `postgres`
#   user (created by Debian's package) and DIR is handed to it; as any other user they run as
#   that user.
# * The socket lives in DIR, not /var/run/postgresql, so several clusters (several worktrees,
#   a CI run beside a developer's) never collide and nothing needs write access outside DIR.
#   The server also listens on 127.0.0.1 at the same port, for clients that only speak TCP.
# * The port is random and probed first; if another process takes it between the probe and the
#   start, the start fails and the next port is tried.
# * fsync stays on: the crash and benchmark tests that use this cluster measure a durable
#   database, as a production one is. max_connections is raised so that pgbench at 64 clients
#   and several bankd pools fit at once.
# * `stop` deletes DIR only if `start` made a cluster in it (the marker file), so a mistyped
#   argument cannot delete anything else.
#
# PG_BIN overrides where the server binaries are found (default: the newest
# /usr/lib/postgresql/*/bin, then `pg_config --bindir`).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
command=$1
dir=$(realpath -m -- "$2")
marker=$dir/bankd-test-cluster

pg_bin() {
    if [[ -n ${PG_BIN:-} ]]; then
        echo "$PG_BIN"
        return
    fi
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $newest && -x $newest/initdb ]]; then
        echo "$newest"
    elif command -v pg_config >/dev/null 2>&1; then
        pg_config --bindir
    else
        echo "$0: no PostgreSQL server binaries (install Debian's postgresql, or set PG_BIN)" >&2
        exit 1
    fi
}

# Runs a server command as the postgres user when we are root (the server refuses root).
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    echo "postgres://postgres@/postgres?host=$dir&port=$(cat "$dir/port")"
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [[ ! -e $dir/.s.PGSQL.$1 ]]
}

start() {
    local bin
    bin=$(pg_bin)
    if [[ -e $marker ]]; then
        echo "$0: $dir already holds a cluster; stop it first" >&2
        exit 1
    fi
    # The socket path is $dir/.s.PGSQL.NNNNN, and a unix socket path holds at most 107 bytes.
    if (( ${#dir} > 90 )); then
        echo "$0: $dir is too long for a unix socket path; use a shorter one (mktemp -d)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner touch "$marker"
    cat >>"$dir/data/postgresql.conf" <<CONF
# tests/pg/cluster.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
CONF
    local attempt port
    for attempt in $(seq 1 20); do
        port=$(( 20000 + RANDOM % 40000 ))
        port_is_free "$port" || continue
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
            -o "-p $port" start >/dev/null; then
            as_owner sh -c "echo $port > '$dir/port'"
            url
            return
        fi
    done
    echo "$0: the server did not start; its log:" >&2
    tail -n 30 "$dir/postgresql.log" >&2 || true
    exit 1
}

stop() {
    if [[ ! -e $marker ]]; then
        echo "$0: $dir holds no cluster made by this script" >&2
        exit 1
    fi
    as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf -- "$dir"
}

case $command in
    start) start ;;
    stop) stop ;;
    url)
        [[ -e $dir/port ]] || { echo "$0: no running cluster in $dir" >&2; exit 1; }
        url
        ;;
    *) usage ;;
esac
