#!/usr/bin/env bash
# `make bench`: throughput figures on the real broker and PostgreSQL, each beside a baseline
# measured in the same run (not a pass/fail test; tests/bench_run.py says which figure is below
# its target and writes build/bench/results.json).
#   BENCH_TRACKING_EVENTS (200000), BENCH_COMPLAINTS (2000), BENCH_CLIENTS (16),
#   BENCH_TIMER_CLOCKS (100000), BENCH_PERF (1: perf profiles of the tracking consumers and the
#   timer with PostgreSQL; 0: none), BENCH_PHASES, BENCH_SERVICE_ENV (see tests/bench_run.py)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
export BUILD
CP_CACHE=${CP_CACHE:-$HOME/.cache/complaints}
PY=${CP_VENV:-$CP_CACHE/venv}/bin/python
mkdir -p "$BUILD"/gen/py "$BUILD"/bench
protoc --python_out="$BUILD"/gen/py -Iproto proto/*.proto

# kafka-producer-perf-test's class and its dependencies, in their own directory (the broker's
# jars stay as deps.sh resolved them); complete when the stamp holds the pom's hash
KAFKA_TOOLS_LIBS=${KAFKA_TOOLS_LIBS:-$CP_CACHE/kafka-tools-3.9.1/libs}
export KAFKA_TOOLS_LIBS
tools_pom=deploy/kafka/tools-pom.xml
want=$(sha256sum "$tools_pom" | cut -d' ' -f1)
if [[ ! -f $KAFKA_TOOLS_LIBS/.complete || $(<"$KAFKA_TOOLS_LIBS/.complete") != "$want" ]]; then
	tmp="$KAFKA_TOOLS_LIBS.tmp.$$"
	rm -rf "$tmp" && mkdir -p "$tmp"
	if mvn -q -B -f "$tools_pom" dependency:copy-dependencies -DoutputDirectory="$tmp" >&2; then
		rm -rf "$KAFKA_TOOLS_LIBS" && mv "$tmp" "$KAFKA_TOOLS_LIBS"
		echo "$want" >"$KAFKA_TOOLS_LIBS/.complete"
	else
		echo "bench: the kafka-tools jars could not be resolved; no producer baseline" >&2
		rm -rf "$tmp"
	fi
fi

export CP_TEST_LOG_LEVEL=warn
# one classification as the service does it, on every corpus text three times (no stack needed)
echo "== text classification: one complaint"
"$BUILD"/bin/cp-textmodel bench services/classification/corpus/corpus.tsv "$BUILD"/model/classifier.bin 3 2>/dev/null \
	| grep -v '^{"ts"'
"$PY" tests/bench_run.py
