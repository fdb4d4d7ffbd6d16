#!/usr/bin/env bash
# Every test layer (`make test` builds first, then runs this).
#
#   tests/run.sh                      unit, then system; non-zero if any layer fails
#   tests/run.sh unit                 only the C unit tests: every build/tests/test_* (Check)
#   tests/run.sh system [pytest args] only the system tests: pytest tests/system
#   tests/run.sh chaos [pytest args]  the fault battery (tests/chaos, `make chaos`): every service,
#                                     the broker and PostgreSQL killed in turn under a stream of
#                                     complaints and scans; prints each recovery time (part of the
#                                     default run)
#   tests/run.sh sanitize             ASan/UBSan build, then its unit tests and the end-to-end
#                                     system tests (part of the default run)
#   tests/run.sh fuzz                 the libFuzzer targets (tests/fuzz), FUZZ_SECONDS (10) each
#                                     (part of the default run; `make fuzz` runs them longer)
#
# The last line is always `N passed, N failed` summed over the layers that ran.
# Environment: CP_CACHE / CP_VENV (the venv from deploy/scripts/deps.sh), UNIT_TIMEOUT (300 s
# per unit binary), SYSTEM_TIMEOUT (1200 s for the whole system layer), CHAOS_TIMEOUT (600 s),
# CK_FORK (Check's default).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CP_CACHE=${CP_CACHE:-$HOME/.cache/complaints}
CP_VENV=${CP_VENV:-$CP_CACHE/venv}
PY=$CP_VENV/bin/python
BUILD=${BUILD:-build}
export BUILD
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
RESULTS=$BUILD/test-results
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
SYSTEM_TIMEOUT=${SYSTEM_TIMEOUT:-1200}
CHAOS_TIMEOUT=${CHAOS_TIMEOUT:-600}

PASSED=0
FAILED=0
SKIPPED=0
LAYER_FAILED=0

log() { echo "tests: $*" >&2; }

# Check prints e.g. "100%: Checks: 12, Failures: 0, Errors: 0" once per suite runner.
run_unit_binary() {
	local bin=$1 out status checks failures errors
	out=$(timeout --kill-after=10 "$UNIT_TIMEOUT" "$bin" 2>&1)
	status=$?
	echo "$out"
	read -r checks failures errors < <(echo "$out" |
		sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' |
		awk '{c += $1; f += $2; e += $3} END {print c + 0, f + 0, e + 0}')
	if ((checks == 0)); then
		# no summary: the binary crashed, timed out or is not a Check runner; one failure
		((status == 0)) && PASSED=$((PASSED + 1)) || FAILED=$((FAILED + 1))
	else
		PASSED=$((PASSED + checks - failures - errors))
		FAILED=$((FAILED + failures + errors))
		((status == 0 && failures + errors > 0)) && status=1
	fi
	if ((status != 0)); then
		log "FAILED: $bin (exit $status)"
		LAYER_FAILED=1
	fi
}

layer_unit() {
	local bins=() bin
	for bin in "$BUILD"/tests/test_*; do
		[[ -f $bin && -x $bin ]] && bins+=("$bin")
	done
	if ((${#bins[@]} == 0)); then
		if compgen -G 'tests/unit/test_*.c' >/dev/null; then
			log "unit test sources exist but $BUILD/tests holds no binary: run make"
			FAILED=$((FAILED + 1))
			LAYER_FAILED=1
		else
			log "unit: no unit tests yet"
		fi
		return
	fi
	log "unit: ${#bins[@]} binaries"
	for bin in "${bins[@]}"; do
		run_unit_binary "$bin"
	done
}

ensure_venv() {
	[[ -x $PY ]] && return 0
	log "no test venv at $CP_VENV; running deploy/scripts/deps.sh"
	"$ROOT/deploy/scripts/deps.sh" || return 1
}

gen_protos() {
	local protos=(proto/*.proto)
	mkdir -p "$BUILD"/gen/py
	[[ -e ${protos[0]} ]] || return 0
	protoc --python_out="$BUILD"/gen/py -Iproto "${protos[@]}"
}

# Adds pytest's counts from its junit XML to the totals.
count_junit() {
	local xml=$1 counts
	[[ -f $xml ]] || return 1
	counts=$("$PY" - "$xml" <<-'EOF'
		import sys, xml.etree.ElementTree as ET
		root = ET.parse(sys.argv[1]).getroot()
		suites = [root] if root.tag == "testsuite" else list(root)
		t = f = e = s = 0
		for suite in suites:
		    t += int(suite.get("tests", 0)); f += int(suite.get("failures", 0))
		    e += int(suite.get("errors", 0)); s += int(suite.get("skipped", 0))
		print(t - f - e - s, f + e, s)
	EOF
	) || return 1
	read -r p f s <<<"$counts"
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
}

# Runs pytest on a directory of system-level tests and adds its counts: layer_pytest <name>
# <dir> <timeout> [pytest args].
layer_pytest() {
	local name=$1 dir=$2 limit=$3 status xml
	shift 3
	if ! ensure_venv; then
		log "$name: no Python venv"
		FAILED=$((FAILED + 1))
		LAYER_FAILED=1
		return
	fi
	if ! gen_protos; then
		log "$name: protoc failed on proto/*.proto"
		FAILED=$((FAILED + 1))
		LAYER_FAILED=1
		return
	fi
	mkdir -p "$RESULTS"
	xml=$RESULTS/${SYSTEM_XML:-$name.xml}
	rm -f "$xml"
	timeout --kill-after=30 "$limit" \
		"$PY" -m pytest "$dir" -q -ra -p no:cacheprovider --junitxml="$xml" "$@"
	status=$?
	if ((status == 5)); then
		if compgen -G "$dir/test_*.py" >/dev/null; then
			log "$name: pytest collected no tests although $dir has test files"
			FAILED=$((FAILED + 1))
			LAYER_FAILED=1
		fi
		return
	fi
	if ! count_junit "$xml" && ((status != 0)); then
		FAILED=$((FAILED + 1))
	fi
	if ((status != 0)); then
		log "$name: pytest exited $status"
		LAYER_FAILED=1
	fi
}

layer_system() {
	layer_pytest system tests/system "$SYSTEM_TIMEOUT" "$@"
}

# The fault battery on a stack of its own; -s shows each fault's recovery figures as they come.
layer_chaos() {
	log "chaos: the fault battery (tests/chaos)"
	layer_pytest chaos tests/chaos "$CHAOS_TIMEOUT" -s "$@"
}

# The sanitizer layer: everything rebuilt with ASan and UBSan (any report aborts), then the unit
# tests and the end-to-end system tests run on those binaries.
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# test_followup_set_apply: the set code keeps pointers into decoded events and query results
SAN_SYSTEM_TESTS=(tests/system/test_pipeline.py tests/system/test_resilience.py
	tests/system/test_followup_set_apply.py)

layer_sanitize() {
	local main_build=$BUILD
	mkdir -p "$RESULTS"
	log "sanitize: building with $SAN_FLAGS into $main_build/asan"
	if ! make -s -j2 BUILD="$main_build/asan" SAN="$SAN_FLAGS" CFLAGS="-O1 -g" all \
		>"$RESULTS/asan-build.log" 2>&1; then
		log "sanitize: build failed, see $RESULTS/asan-build.log"
		FAILED=$((FAILED + 1))
		LAYER_FAILED=1
		return
	fi
	BUILD=$main_build/asan
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	layer_unit
	SYSTEM_XML=system-asan.xml layer_system "${SAN_SYSTEM_TESTS[@]}"
	BUILD=$main_build
	unset ASAN_OPTIONS UBSAN_OPTIONS
}

# The libFuzzer targets, briefly: each from its seed corpus for FUZZ_SECONDS; one result per target.
layer_fuzz() {
	local out status
	mkdir -p "$RESULTS"
	log "fuzz: building the targets with clang (libFuzzer, ASan, UBSan)"
	if ! make -s -j2 fuzz-build >"$RESULTS/fuzz-build.log" 2>&1; then
		log "fuzz: build failed, see $RESULTS/fuzz-build.log"
		FAILED=$((FAILED + 1))
		LAYER_FAILED=1
		return
	fi
	out=$(tests/fuzz/run.sh "$BUILD/fuzz/fuzz-bin" "${FUZZ_SECONDS:-10}")
	status=$?
	read -r p f < <(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
	PASSED=$((PASSED + ${p:-0}))
	FAILED=$((FAILED + ${f:-1}))
	((status == 0)) || LAYER_FAILED=1
}

main() {
	local layer=${1:-all}
	(($#)) && shift
	case $layer in
	all)
		layer_unit
		layer_system
		layer_chaos
		layer_sanitize
		layer_fuzz
		;;
	unit) layer_unit ;;
	sanitize) layer_sanitize ;;
	fuzz) layer_fuzz ;;
	system) layer_system "$@" ;;
	chaos) layer_chaos "$@" ;;
	*)
		log "usage: tests/run.sh [unit | system [pytest args] | chaos [pytest args] | sanitize | fuzz]"
		exit 2
		;;
	esac
	if ((SKIPPED)); then
		echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	else
		echo "$PASSED passed, $FAILED failed"
	fi
	((LAYER_FAILED == 0 && FAILED == 0))
}

main "$@"
