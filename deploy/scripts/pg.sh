#!/usr/bin/env bash
# A private PostgreSQL 15 for local runs and tests.
#
#   pg.sh start <state_dir> <port>   initdb once into <state_dir>/pg, start, create database
#                                    `complaints`; prints ADMIN_DATABASE_URL=... on stdout
#   pg.sh stop  <state_dir> [mode]   shutdown (pg_ctl -m fast by default; immediate for the chaos
#                                    battery's crash: no checkpoint, recovery at the next start);
#                                    a no-op when not running
#   pg.sh url   <state_dir> <port>   prints the ADMIN_DATABASE_URL only
#
# Listens on 127.0.0.1:<port> (scram-sha-256) and on a unix socket in <state_dir>/pg/run (trust).
# Superuser `postgres`, password $PG_SUPERUSER_PASSWORD (default postgres). As root the server runs
# as the system user $PG_OS_USER (default cpdb, created when missing). Logs go to <state_dir>/pg.log.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_OS_USER=${PG_OS_USER:-cpdb}
PG_SUPERUSER_PASSWORD=${PG_SUPERUSER_PASSWORD:-postgres}
DB_NAME=complaints

log() { echo "pg: $*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() { die "usage: pg.sh start <state_dir> <port> | stop <state_dir> [fast|smart|immediate] | url <state_dir> <port>"; }

is_root() { [[ $(id -u) == 0 ]]; }

# Runs a PostgreSQL binary as the owner of the data directory.
as_pg() {
	if is_root; then
		runuser -u "$PG_OS_USER" -- "$@"
	else
		"$@"
	fi
}

ensure_os_user() {
	is_root || return 0
	id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
	log "creating system user $PG_OS_USER"
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
}

prepare_dirs() {
	mkdir -p "$PGROOT/run"
	if is_root; then
		chown "$PG_OS_USER:" "$PGROOT" "$PGROOT/run"
		chmod 0700 "$PGROOT"
		runuser -u "$PG_OS_USER" -- test -w "$PGROOT" ||
			die "$PG_OS_USER cannot reach $PGROOT: every parent directory needs o+x"
	fi
	touch "$STATE/pg.log"
	is_root && chown "$PG_OS_USER:" "$STATE/pg.log"
	return 0
}

init_cluster() {
	[[ -f $PGDATA/PG_VERSION ]] && return 0
	local pwfile=$PGROOT/.pwfile
	log "initdb into $PGDATA"
	(umask 077 && echo "$PG_SUPERUSER_PASSWORD" >"$pwfile")
	is_root && chown "$PG_OS_USER:" "$pwfile"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >>"$STATE/pg.log" 2>&1 ||
		{
			rm -f "$pwfile"
			die "initdb failed, see $STATE/pg.log"
		}
	rm -f "$pwfile"
	cat >>"$PGDATA/postgresql.conf" <<-'EOF'

		# --- complaints: local/test settings (deploy/scripts/pg.sh) ---
		max_connections = 200
		shared_buffers = 256MB
		work_mem = 8MB
		wal_level = replica
		max_wal_size = 1GB
		checkpoint_timeout = 15min
		log_min_duration_statement = 1000
		log_line_prefix = '%m [%p] %u@%d '
		timezone = 'UTC'
		# what each statement costs, for `make bench` and operators (pg_stat_statements view
		# after CREATE EXTENSION; a few per cent of CPU at most)
		shared_preload_libraries = 'pg_stat_statements'
		pg_stat_statements.track = all
	EOF
}

is_running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

start_server() {
	if is_running; then
		log "already running ($PGDATA)"
		return 0
	fi
	# port, address and socket are given on the command line so a re-run may pick other ports
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STATE/pg.log" -w -t 60 \
		-o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGROOT/run" start >/dev/null ||
		die "postgres did not start, see $STATE/pg.log"
}

psql_local() {
	as_pg "$PGBIN/psql" -X -q -h "$PGROOT/run" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}

ensure_database() {
	local exists
	exists=$(psql_local -d postgres -tAc "select 1 from pg_database where datname = '$DB_NAME'")
	[[ $exists == 1 ]] && return 0
	log "creating database $DB_NAME"
	psql_local -d postgres -c "create database $DB_NAME"
}

print_url() {
	echo "ADMIN_DATABASE_URL=postgresql://postgres:$PG_SUPERUSER_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
}

# The running server's port: a stop must not depend on the caller remembering it.
running_port() { sed -n '4p' "$PGDATA/postmaster.pid" 2>/dev/null; }

cmd_start() {
	ensure_os_user
	prepare_dirs
	init_cluster
	start_server
	PORT=$(running_port)
	ensure_database
	print_url
}

cmd_stop() {
	[[ -f $PGDATA/PG_VERSION ]] || return 0
	is_running || return 0
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m "$STOP_MODE" -w -t 60 stop >/dev/null ||
		die "postgres did not stop, see $STATE/pg.log"
	log "stopped"
}

main() {
	(($# >= 2)) || usage
	local cmd=$1
	mkdir -p "$2"
	STATE=$(cd "$2" && pwd)
	PGROOT=$STATE/pg
	PGDATA=$PGROOT/data
	PORT=${3:-}
	case $cmd in
	start) [[ -n $PORT ]] || usage && cmd_start ;;
	stop)
		STOP_MODE=${3:-fast}
		case $STOP_MODE in fast | smart | immediate) ;; *) usage ;; esac
		cmd_stop
		;;
	url) [[ -n $PORT ]] || usage && print_url ;;
	*) usage ;;
	esac
}

main "$@"
