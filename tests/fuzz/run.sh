#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, starting from its seed corpus
# (tests/fuzz/corpus/<target>, read only: what the run finds goes to a scratch corpus under
# $BUILD/fuzz/work). A crash, leak, sanitizer report or timeout fails the run; the input that
# caused it is kept as $BUILD/fuzz/artifacts/<target>-crash-* (add it to the seeds with the fix).
#
#   tests/fuzz/run.sh BIN_DIR SECONDS
# The last line is `N passed, N failed` (one per target), like tests/run.sh.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=${1:?usage: run.sh BIN_DIR SECONDS}
SECONDS_EACH=${2:-60}
WORK=$(dirname "$BIN_DIR")/work
ART=$(dirname "$BIN_DIR")/artifacts
mkdir -p "$WORK" "$ART"
passed=0
failed=0
for bin in "$BIN_DIR"/fuzz_*; do
	[[ -x $bin ]] || continue
	name=$(basename "$bin")
	seeds=$ROOT/tests/fuzz/corpus/$name
	mkdir -p "$WORK/$name"
	log=$ART/$name.log
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory on a shared
	# machine; the first corpus directory is the one libFuzzer writes new inputs into
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		timeout --kill-after=10 $((SECONDS_EACH + 60)) "$bin" -max_total_time="$SECONDS_EACH" \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$ART/$name-" \
		"$WORK/$name" "$seeds" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz: $name: ${execs:-?} inputs in ${SECONDS_EACH}s, no finding" >&2
		passed=$((passed + 1))
	else
		echo "fuzz: $name FAILED; see $log and $ART/$name-*" >&2
		grep -m5 -E "ERROR|runtime error|SUMMARY" "$log" >&2
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
