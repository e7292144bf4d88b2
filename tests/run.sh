#!/bin/sh
# pqx tests: runs every suite, counts PASS/FAIL/SKIP lines, ends with one total line.
# Usage: tests/run.sh BUILD   (the build folder; BUILD/asan, BUILD/tsan and BUILD/ct are used too)
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export PQX_SHARED="${PQX_SHARED:-$top/../shared}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0 skip=0

# run_suite NAME PREFIX CMD...: runs CMD, prefixes its result lines with PREFIX.
run_suite() {
	name=$1 prefix=$2
	shift 2
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	sed -e "s/^\(PASS\|FAIL\|SKIP\) /\1 $prefix/" "$log"
	p=$(grep -c '^PASS ' "$log") f=$(grep -c '^FAIL ' "$log") s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $prefix$name exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run_suite "$(basename "$t")" "" "$t"
done
# Where the records' AES-256-GCM is ours (src/crypto/aesgcm.c), OpenSSL's stays tested too.
for t in test_wrappers test_channel_kat; do
	[ -x "$BUILD/tests/$t" ] && run_suite "$t (PQX_GCM=openssl)" "[openssl gcm] " env PQX_GCM=openssl "$BUILD/tests/$t"
done
if [ -d "$BUILD/asan/tests" ]; then
	for t in "$BUILD"/asan/tests/test_*; do
		[ -x "$t" ] && run_suite "$(basename "$t") (ASan+UBSan)" "[asan] " "$t"
	done
fi
# A data race ends the binary with status 66: a failure.
if [ -d "$BUILD/tsan/tests" ]; then
	for t in "$BUILD"/tsan/tests/test_*; do
		[ -x "$t" ] && run_suite "$(basename "$t") (ThreadSanitizer)" "[tsan] " \
			env TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$t"
	done
fi
for s in tests/ct/run.sh tests/interop/run.sh tests/cli/run.sh tests/transfer/run.sh fuzz/regress.sh; do
	[ -f "$s" ] && run_suite "$s" "" sh "$s" "$BUILD"
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
