#!/bin/sh
# pqx ct: runs the constant-time checks (tests/ct) under valgrind memcheck; prints PASS/FAIL/SKIP lines.
# Usage: tests/ct/run.sh BUILD   (the build folder holding tests/ct/ct_kem, ct_bech32, ct_hmac_mb and ct_chachapoly; not a sanitizer build)
set -u
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
bins="$BUILD/tests/ct/ct_kem $BUILD/tests/ct/ct_bech32 $BUILD/tests/ct/ct_hmac_mb $BUILD/tests/ct/ct_chachapoly"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP ct: valgrind is not installed (scripts/deps.sh installs it)"
	exit 0
fi
for bin in $bins; do
	if [ ! -x "$bin" ]; then
		echo "FAIL ct: $bin is not built (make tests)"
		exit 1
	fi
done

status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# run_ct BIN MODE SUPPRESSIONS...: one valgrind run; the binary prints its
# own PASS/FAIL lines, counting valgrind's reports per case.
run_ct() {
	bin=$BUILD/tests/ct/$1 mode=$2
	shift 2
	supp=""
	for s in "$@"; do
		supp="$supp --suppressions=$here/$s"
	done
	# shellcheck disable=SC2086
	valgrind -q --error-exitcode=1 --track-origins=yes $supp "$bin" "$mode" >"$out" 2>&1
	rc=$?
	cat "$out"
	if [ "$rc" -ne 0 ]; then
		status=1
		# A report outside any case still fails the run, once.
		grep -q '^FAIL ' "$out" ||
			echo "FAIL ct $(basename "$bin") $mode: valgrind or the test exited with status $rc"
	fi
}

run_ct ct_kem secret public.supp
run_ct ct_kem whole-dk public.supp whole-dk.supp
run_ct ct_bech32 secret
run_ct ct_hmac_mb secret
run_ct ct_chachapoly secret
exit "$status"
