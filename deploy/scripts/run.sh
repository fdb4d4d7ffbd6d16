#!/usr/bin/env bash
# The whole system on this machine (`make run` builds first, then runs this):
# PostgreSQL, Kafka, migrations and topics, the six services and nginx in front of them, and
# the local notification gateways (deploy/scripts/receiver.py: SMS, e-mail, app and staff-app
# push on one port; what each person received is at its GET / and in $CP_STATE/inbox/).
# Ctrl-C or SIGTERM stops everything in order (services, nginx, Kafka, PostgreSQL) and exits 0.
# Data lives in the state directory and survives re-runs.
#
# Environment (all optional):
#   CP_STATE              state directory (default var)
#   BASE_PORT             nginx, the front door (8080)
#   PG_PORT               PostgreSQL (55432)
#   KAFKA_PORT            Kafka broker (59092); KAFKA_CONTROLLER_PORT (59093)
#   RECEIVER_PORT         the local notification gateways (8090)
#   INTAKE_PORT .. TIMER_PORT
#                         the services' own ports (8081 intake, 8082 classification, 8083 evidence,
#                         8084 resolution, 8085 followup, 8086 timer)
#   LOG_LEVEL             passed to every service (info)
#   AUTH_TOKENS           staff bearer tokens for every service (default: random tokens made once
#                         for this state directory, printed at start; see secrets.sh)
#   CP_ECHO_LOGS=1        also echo every service's log lines to this terminal
#   CP_READY_TIMEOUT      seconds to wait for every /readyz (120)
#
# deploy/local.env (optional, not committed) adds service environment, one assignment a line:
#   LOG_LEVEL=debug                          every service
#   timer.SLA_FIRST_RESPONSE_SECONDS=60      only the timer service
# Blank lines and lines starting with # are ignored; values are taken literally (no quoting).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SCRIPTS=$ROOT/deploy/scripts
BIN=${CP_BIN:-$ROOT/build/bin}
SERVICES=(intake classification evidence resolution followup timer)
declare -A DEFAULT_PORT=([intake]=8081 [classification]=8082 [evidence]=8083 [resolution]=8084
	[followup]=8085 [timer]=8086)

mkdir -p "${CP_STATE:-var}"
STATE=$(cd "${CP_STATE:-var}" && pwd)
LOGS=$STATE/logs
export BASE_PORT=${BASE_PORT:-8080}
PG_PORT=${PG_PORT:-55432}
KAFKA_PORT=${KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-59093}
READY_TIMEOUT=${CP_READY_TIMEOUT:-120}
# Per-install secrets and staff tokens (random, made once for this state directory): no
# service runs on a published development secret (they refuse to without DEV_MODE=true).
SECRETS=$STATE/secrets
RECEIVER_PORT=${RECEIVER_PORT:-8090}
RECEIVER_PID=
for svc in "${SERVICES[@]}"; do
	var=${svc^^}_PORT
	export "$var=${!var:-${DEFAULT_PORT[$svc]}}"
done

declare -A PID=()
declare -A REPORTED=()
declare -a LOCAL_ENV=()
TAIL_PID=
STOPPING=0

log() { echo "run: $*" >&2; }
die() {
	log "$*"
	stop_all
	exit 1
}

service_port() {
	local var=${1^^}_PORT
	echo "${!var}"
}

read_local_env() {
	local file=$ROOT/deploy/local.env line
	[[ -f $file ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		[[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
		[[ $line == *=* ]] || die "deploy/local.env: not an assignment: $line"
		LOCAL_ENV+=("$line")
	done <"$file"
	log "read ${#LOCAL_ENV[@]} assignment(s) from deploy/local.env"
}

# The environment of one service: the contract's variables, then deploy/local.env.
service_env() {
	local svc=$1 kv key
	echo "HTTP_ADDR=127.0.0.1"
	echo "HTTP_PORT=$(service_port "$svc")"
	echo "DATABASE_URL=postgresql://$svc:$svc@127.0.0.1:$PG_PORT/complaints"
	echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
	echo "LOG_LEVEL=${LOG_LEVEL:-info}"
	if [[ -n ${AUTH_TOKENS:-} ]]; then
		echo "AUTH_TOKENS=$AUTH_TOKENS"
	else
		echo "AUTH_TOKENS_FILE=$SECRETS/auth_tokens"
	fi
	echo "PSEUDONYM_KEY_FILE=$SECRETS/pseudonym_key"
	echo "CUSTOMER_LINK_SECRET_FILE=$SECRETS/customer_link_secret"
	echo "WEBHOOK_SECRET_FILE=$SECRETS/webhook_secret"
	# staff sessions: every service checks the cookie with this key and asks classification
	# (which owns the sessions) for the revoked ones
	echo "SESSION_SECRET_FILE=$SECRETS/session_secret"
	echo "SESSION_AUTHORITY_URL=http://127.0.0.1:$CLASSIFICATION_PORT"
	if [[ $svc == classification ]]; then
		echo "BOOTSTRAP_ADMIN_ID=ADM1"
		echo "BOOTSTRAP_ADMIN_PASSWORD_FILE=$SECRETS/admin_password"
	fi
	echo "PUBLIC_BASE_URL=http://127.0.0.1:$BASE_PORT"
	# the text classifier `make` trains (deploy/local.env may point elsewhere)
	[[ $svc == classification ]] && echo "CLASSIFIER_MODEL=${CLASSIFIER_MODEL:-$ROOT/build/model/classifier.bin}"
	if [[ $svc == followup ]]; then
		local kind
		for kind in sms email app staff_app; do
			echo "NOTIFY_${kind^^}_URL=http://127.0.0.1:$RECEIVER_PORT/$kind"
		done
	fi
	for kv in "${LOCAL_ENV[@]}"; do
		key=${kv%%=*}
		if [[ $key == *.* ]]; then
			[[ ${key%%.*} == "$svc" ]] && echo "${key#*.}=${kv#*=}"
		else
			echo "$kv"
		fi
	done
	return 0
}

# The staff tokens of this install, one "role  staff id  token" line each, for the banner.
staff_tokens() {
	local entry
	[[ -n ${AUTH_TOKENS:-} ]] && { echo "              (AUTH_TOKENS from the environment)"; return; }
	tr ',' '\n' <"$SECRETS/auth_tokens" | while IFS=: read -r token role staff; do
		printf '              %-12s %-5s %s\n' "$role" "$staff" "$token"
	done
}

check_binaries() {
	local svc missing=()
	for svc in "${SERVICES[@]}" admin; do
		[[ -x $BIN/cp-$svc ]] || missing+=("$BIN/cp-$svc")
	done
	((${#missing[@]} == 0)) || die "not built: ${missing[*]} (run make)"
}

start_infra() {
	"$SCRIPTS/pg.sh" start "$STATE" "$PG_PORT" >/dev/null || die "PostgreSQL did not start"
	"$SCRIPTS/kafka.sh" start "$STATE" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" >/dev/null ||
		die "Kafka did not start"
}

run_admin() {
	local admin_url
	admin_url=$("$SCRIPTS/pg.sh" url "$STATE" "$PG_PORT")
	admin_url=${admin_url#ADMIN_DATABASE_URL=}
	env -i PATH="$PATH" HOME="$HOME" ADMIN_DATABASE_URL="$admin_url" \
		MIGRATIONS_DIR="$ROOT/deploy/sql" "$BIN/cp-admin" migrate >>"$LOGS/admin.log" 2>&1 ||
		die "cp-admin migrate failed, see $LOGS/admin.log"
	env -i PATH="$PATH" HOME="$HOME" KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" \
		"$BIN/cp-admin" topics >>"$LOGS/admin.log" 2>&1 ||
		die "cp-admin topics failed, see $LOGS/admin.log"
	log "migrations and topics in place"
}

# The carriers' gateways stand-in: a real HTTP server that checks each signature and keeps
# the messages per recipient, so "delivered" means a receiver acknowledged it.
start_receiver() {
	# the same per-install key follow-up signs with (WEBHOOK_SECRET_FILE)
	setsid env WEBHOOK_SECRET_FILE="$SECRETS/webhook_secret" \
		python3 "$SCRIPTS/receiver.py" --port "$RECEIVER_PORT" --state "$STATE" \
		</dev/null >>"$LOGS/receiver.log" 2>&1 &
	RECEIVER_PID=$!
	local i
	for ((i = 0; i < 50; i++)); do
		curl -fsS -o /dev/null -m 1 "http://127.0.0.1:$RECEIVER_PORT/stats.json" 2>/dev/null &&
			return 0
		kill -0 "$RECEIVER_PID" 2>/dev/null || break
		sleep 0.2
	done
	die "the notification receiver did not start on port $RECEIVER_PORT, see $LOGS/receiver.log"
}

start_service() {
	local svc=$1 envs
	mapfile -t envs < <(service_env "$svc")
	# own session: Ctrl-C reaches only this script, which then stops things in order
	setsid env -i PATH="$PATH" HOME="$HOME" TZ=UTC "${envs[@]}" "$BIN/cp-$svc" \
		</dev/null >>"$LOGS/$svc.log" 2>>"$LOGS/$svc.stderr.log" &
	PID[$svc]=$!
}

start_services() {
	local svc
	for svc in "${SERVICES[@]}"; do
		start_service "$svc"
	done
	if [[ ${CP_ECHO_LOGS:-0} == 1 ]]; then
		local files=()
		for svc in "${SERVICES[@]}"; do files+=("$LOGS/$svc.log"); done
		tail -n 0 -F "${files[@]}" 2>/dev/null &
		TAIL_PID=$!
	fi
}

# Reports every service that has exited since the last look; returns 1 if any has.
check_services() {
	local svc status rc=0
	for svc in "${!PID[@]}"; do
		[[ -n ${REPORTED[$svc]:-} ]] && continue
		kill -0 "${PID[$svc]}" 2>/dev/null && continue
		status=0
		wait "${PID[$svc]}" 2>/dev/null || status=$?
		REPORTED[$svc]=1
		rc=1
		log "SERVICE DIED: cp-$svc (pid ${PID[$svc]}) exited with status $status; last lines of its logs:"
		tail -n 15 "$LOGS/$svc.log" "$LOGS/$svc.stderr.log" >&2 2>/dev/null || true
	done
	return $rc
}

wait_ready() {
	local svc deadline=$((SECONDS + READY_TIMEOUT)) pending
	while :; do
		pending=()
		for svc in "${SERVICES[@]}"; do
			curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$(service_port "$svc")/readyz" 2>/dev/null ||
				pending+=("$svc")
		done
		((${#pending[@]} == 0)) && return 0
		check_services || die "a service died during start-up"
		((SECONDS < deadline)) || die "not ready after ${READY_TIMEOUT}s: ${pending[*]} (logs in $LOGS)"
		sleep 0.5
	done
}

stop_service() {
	local svc=$1 pid=${PID[$1]} i
	kill -0 "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "cp-$svc ignored SIGTERM for 10s, killing"
	kill -KILL "$pid" 2>/dev/null || true
}

stop_all() {
	((STOPPING)) && return 0
	STOPPING=1
	trap '' INT TERM
	local svc
	log "stopping"
	for svc in "${!PID[@]}"; do
		kill -TERM "${PID[$svc]}" 2>/dev/null || true
	done
	for svc in "${!PID[@]}"; do
		stop_service "$svc"
	done
	[[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null
	[[ -n $RECEIVER_PID ]] && kill "$RECEIVER_PID" 2>/dev/null
	"$SCRIPTS/nginx.sh" stop "$STATE" || true
	"$SCRIPTS/kafka.sh" stop "$STATE" || true
	"$SCRIPTS/pg.sh" stop "$STATE" || true
	log "stopped; data kept in $STATE"
}

on_signal() {
	stop_all
	exit 0
}

main() {
	mkdir -p "$LOGS"
	trap on_signal INT TERM
	check_binaries
	read_local_env
	"$SCRIPTS/secrets.sh" "$SECRETS"
	start_infra
	run_admin
	start_receiver
	start_services
	"$SCRIPTS/nginx.sh" start "$STATE" >/dev/null || die "nginx did not start"
	wait_ready
	cat <<-EOF

		  complaints system ready at http://127.0.0.1:$BASE_PORT   (state: $STATE, logs: $LOGS)
		  console:  http://127.0.0.1:$BASE_PORT/   customers: /c/<waybill no>   staff: /staff/signin
		            an admin signs in as ADM1 with the password in $SECRETS/admin_password
		            (then sets the staff's passwords under Admin, and changes their own);
		            integrations (and the console's "integration token" option) use a staff
		            token of this install ($SECRETS/auth_tokens):
		$(staff_tokens)
		  try:  curl -s http://127.0.0.1:$BASE_PORT/services/intake/readyz
		  what each person was sent (SMS, e-mail, app, staff app): http://127.0.0.1:$RECEIVER_PORT/
		  (also $STATE/inbox/<recipient>.jsonl)
		  Ctrl-C stops everything.

	EOF
	# the wait is interruptible by signals, unlike a long sleep
	while :; do
		check_services || true
		sleep 1 &
		wait $! || true
	done
}

main "$@"
