#!/usr/bin/env bash
# `make bench`: throughput figures on the real broker and PostgreSQL (not a pass/fail test).
#   BENCH_COMPLAINTS (2000), BENCH_CLIENTS (16), BENCH_TRACKING_EVENTS (20000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
export BUILD
CP_CACHE=${CP_CACHE:-$HOME/.cache/complaints}
PY=${CP_VENV:-$CP_CACHE/venv}/bin/python
mkdir -p "$BUILD"/gen/py
protoc --python_out="$BUILD"/gen/py -Iproto proto/*.proto
export CP_TEST_LOG_LEVEL=warn
# one classification as the service does it, on every corpus text three times (no stack needed)
echo "== text classification: one complaint"
"$BUILD"/bin/cp-textmodel bench services/classification/corpus/corpus.tsv "$BUILD"/model/classifier.bin 3 2>/dev/null
echo "== complaints: HTTP intake and the whole pipeline"
"$PY" tests/bench_pipeline.py --complaints "${BENCH_COMPLAINTS:-2000}" --clients "${BENCH_CLIENTS:-16}"
if [[ -f tests/bench_tracking.py ]]; then
	echo "== tracking ingest"
	"$PY" tests/bench_tracking.py --events "${BENCH_TRACKING_EVENTS:-20000}"
fi
