#!/usr/bin/env bash
# Installs what building, running and testing need: Debian packages (with promtool from
# Debian's prometheus and Compose 1.29.2 for the offline checks), helm (built from the Go module
# proxy into $CP_CACHE/helm-<version>, for the chart's lint and render), the Apache Kafka broker jars,
# the console's npm packages (services/console, `npm ci` from its lockfile; later builds work
# offline from the npm cache) and the Python venv of the system tests (with Playwright, which
# drives Debian's chromium in the browser tests). Idempotent; when everything is present it touches no
# network and takes well under a second.
#
# Environment:
#   CP_CACHE       cache root (default $HOME/.cache/complaints)
#   KAFKA_LIBS     where the broker jars go (default $CP_CACHE/kafka-3.9.1/libs)
#   CP_VENV        the Python venv (default $CP_CACHE/venv)
#   HELM           the helm binary (default $CP_CACHE/helm-v3.19.5/helm)
#   CP_API_VENV    the venv of the API contract tools (default $CP_CACHE/venv-api)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CP_CACHE=${CP_CACHE:-$HOME/.cache/complaints}
KAFKA_VERSION=3.9.1
KAFKA_LIBS=${KAFKA_LIBS:-$CP_CACHE/kafka-$KAFKA_VERSION/libs}
CP_VENV=${CP_VENV:-$CP_CACHE/venv}
HELM_VERSION=v3.19.5
HELM=${HELM:-$CP_CACHE/helm-$HELM_VERSION/helm}
POM=$ROOT/deploy/kafka/pom.xml
REQUIREMENTS=$ROOT/tests/requirements.txt
API_REQUIREMENTS=$ROOT/tests/requirements-api.txt
CP_API_VENV=${CP_API_VENV:-$CP_CACHE/venv-api}

APT_PACKAGES=(
	build-essential pkg-config librdkafka-dev libprotobuf-c-dev protobuf-c-compiler
	protobuf-compiler libevent-dev libpq-dev libjansson-dev libssl-dev libcurl4-openssl-dev libsodium-dev check
	postgresql-15
	nginx-light default-jre-headless maven python3-venv clang-format clang curl wrk
	libopencc-dev libfasttext-dev g++ libutf8proc-dev
	chromium fonts-noto-cjk libqrencode-dev zlib1g-dev
	prometheus docker-compose
)
CONSOLE=$ROOT/services/console

log() { echo "deps: $*" >&2; }
die() {
	log "$*"
	exit 1
}

as_root() {
	if [[ $(id -u) == 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

apt_missing() {
	local pkg
	for pkg in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q ' installed$' || echo "$pkg"
	done
	# the console's build runs on Node.js: Debian's, unless the machine already has one
	command -v node >/dev/null && command -v npm >/dev/null || printf "%s\n" nodejs npm
}

ensure_apt() {
	local missing
	mapfile -t missing < <(apt_missing)
	((${#missing[@]} == 0)) && return 0
	log "installing Debian packages: ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The jar directory is complete when its stamp holds the hash of the pom that filled it.
ensure_kafka_jars() {
	local want stamp=$KAFKA_LIBS/.complete tmp
	want=$(sha256sum "$POM" | cut -d' ' -f1)
	[[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
	log "resolving Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
	tmp="$KAFKA_LIBS.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	# offline first: ~/.m2 usually holds everything after the first run
	if ! mvn -q -B -o -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >/dev/null 2>&1; then
		mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >&2 ||
			die "maven could not resolve the Kafka jars (see output above)"
	fi
	ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after maven"
	rm -rf "$KAFKA_LIBS"
	mv "$tmp" "$KAFKA_LIBS"
	echo "$want" >"$stamp"
}

# The venv is complete when its stamp holds the hash of tests/requirements.txt.
ensure_venv() {
	local want stamp=$CP_VENV/.cp-requirements.sha256
	want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
	[[ -f $stamp && $(<"$stamp") == "$want" && -x $CP_VENV/bin/python ]] && return 0
	log "creating Python venv $CP_VENV"
	# Debian's interpreter: python3-venv above provides ensurepip for exactly this one
	[[ -x $CP_VENV/bin/python ]] || /usr/bin/python3 -m venv "$CP_VENV"
	"$CP_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >&2 ||
		die "pip could not install $REQUIREMENTS"
	echo "$want" >"$stamp"
}

# The API contract tools (schemathesis, openapi-spec-validator) live in a venv of their own:
# schemathesis needs a newer pytest and jsonschema than tests/requirements.txt pins.
ensure_api_venv() {
	local want stamp=$CP_API_VENV/.cp-requirements.sha256
	want=$(sha256sum "$API_REQUIREMENTS" | cut -d' ' -f1)
	[[ -f $stamp && $(<"$stamp") == "$want" && -x $CP_API_VENV/bin/python ]] && return 0
	log "creating Python venv $CP_API_VENV"
	[[ -x $CP_API_VENV/bin/python ]] || /usr/bin/python3 -m venv "$CP_API_VENV"
	"$CP_API_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$API_REQUIREMENTS" >&2 ||
		die "pip could not install $API_REQUIREMENTS"
	echo "$want" >"$stamp"
}

# node_modules is complete when its stamp holds the hash of the lockfile that filled it.
ensure_console_modules() {
	local want stamp=$CONSOLE/node_modules/.cp-lock.sha256
	want=$(sha256sum "$CONSOLE/package-lock.json" | cut -d' ' -f1)
	[[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
	log "installing the console's npm packages (npm ci)"
	(cd "$CONSOLE" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2) ||
		die "npm ci failed in $CONSOLE"
	echo "$want" >"$stamp"
}

# helm from its Go module (the registry the machine reaches; no prebuilt download): a static
# binary, built once (a few minutes on two cores) and kept in the cache.
ensure_helm() {
	[[ -x $HELM ]] && return 0
	local go dir
	go=$(command -v go || echo /usr/local/go/bin/go)
	[[ -x $go ]] || die "helm is built with Go (>= 1.24), which this machine lacks"
	dir=$(dirname "$HELM")
	log "building helm $HELM_VERSION from the Go module proxy into $dir"
	mkdir -p "$dir.tmp"
	(cd "$dir.tmp" && GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
		"$go" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2) ||
		die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

main() {
	ensure_apt
	mkdir -p "$CP_CACHE"
	ensure_helm
	ensure_kafka_jars
	ensure_console_modules
	ensure_venv
	ensure_api_venv
}

main "$@"
