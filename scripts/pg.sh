#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the tests: its own data directory under
# a temp dir, listening on 127.0.0.1 only, trust authentication (loopback, a
# throwaway cluster). Nothing system-wide is assumed or changed: the Debian
# cluster (if any) is left alone.
#
#   scripts/pg.sh start [DIR] [PORT]  initdb if needed, start; prints the URI
#   scripts/pg.sh stop DIR            stops the cluster and removes DIR
#   scripts/pg.sh restart DIR         restart (tests of reconnection)
#   scripts/pg.sh halt DIR            stop the server, keep the cluster (start DIR resumes)
#   scripts/pg.sh replica PRIMARY_DIR DIR [PORT]
#                                     a streaming replica (hot standby) of the
#                                     cluster in PRIMARY_DIR; prints its URI
#
# The server runs as the "postgres" user (created by Debian's package),
# because PostgreSQL refuses to run as root.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	exit 1
fi
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
case "$cmd" in
start)
	dir=${2:-$(mktemp -d /tmp/idn-pg.XXXXXX)}
	# a port the kernel says is free now (a small race, acceptable for tests)
	[ -z "${3:-}" ] && [ -e "$dir/port" ] && set -- "$1" "$dir" "$(cat "$dir/port")"
	port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -e "$dir/data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale \
			>"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
	fi
	echo "$port" >"$dir/port"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir/port"
	# fsync off: a test cluster; durability across an OS crash is not tested.
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
		start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	echo "postgresql://postgres@127.0.0.1:$port/postgres"
	echo "$dir" >&2
	;;
restart)
	dir=${2:?usage: pg.sh restart DIR}
	port=$(cat "$dir/port")
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -m fast \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
		restart >/dev/null
	;;
replica)
	# pg_basebackup -R: a copy of the primary that streams its WAL from it and
	# answers read-only queries; stop it with `stop DIR` like any cluster
	pdir=${2:?usage: pg.sh replica PRIMARY_DIR DIR [PORT]}
	dir=${3:?usage: pg.sh replica PRIMARY_DIR DIR [PORT]}
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -e "$dir/data/PG_VERSION" ]; then
		as_pg "$bin/pg_basebackup" -D "$dir/data" -R -X stream -c fast -h 127.0.0.1 \
			-p "$(cat "$pdir/port")" -U postgres >"$dir/basebackup.log" 2>&1 || {
			cat "$dir/basebackup.log" >&2
			exit 1
		}
	fi
	exec "$0" start "$dir" ${4:-}
	;;
halt)
	# stops the server, keeps the cluster: `start DIR` brings it back on its port
	dir=${2:?usage: pg.sh halt DIR}
	as_pg "$bin/pg_ctl" -D "$dir/data" -w -m fast stop >/dev/null
	;;
stop)
	dir=${2:?usage: pg.sh stop DIR}
	[ -e "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -w -m fast stop >/dev/null || true
	rm -rf "$dir"
	;;
*)
	echo "usage: pg.sh start [DIR] [PORT] | restart DIR | halt DIR | stop DIR |" \
		"replica PRIMARY_DIR DIR [PORT]" >&2
	exit 2
	;;
esac
