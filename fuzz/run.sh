#!/bin/sh
# pqx fuzz: builds the libFuzzer targets and runs each for SECONDS; prints PASS/FAIL/SKIP lines.
# Usage: fuzz/run.sh OUT SECONDS [TARGET...]   (make fuzz: fuzz/run.sh build/fuzz 60)
# TARGETs (names without fuzz_, e.g. server) run only those; by default, all.
# The corpus grows in OUT/corpus/TARGET across runs; crashes land in OUT/crashes.
set -u
out=${1:-build/fuzz}
secs=${2:-60}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
here=$(cd "$(dirname "$0")" && pwd)
# Every fuzz/fuzz_NAME.c is a target.
TARGETS=$(cd "$(dirname "$0")" && ls fuzz_*.c | sed -e "s/^fuzz_//" -e "s/\\.c$//" | tr "\\n" " ")
[ $# -gt 2 ] && shift 2 && TARGETS="$*"

why=$(sh "$here/build.sh" "$out")
case $? in
0) ;;
3)
	echo "SKIP fuzz: $why"
	exit 0
	;;
*)
	echo "FAIL fuzz: $why"
	exit 1
	;;
esac

status=0
mkdir -p "$out/logs" "$out/crashes"
for t in $TARGETS; do
	mkdir -p "$out/corpus/$t"
	log=$out/logs/$t.log
	# The sender's seeds are a few hundred bytes: libFuzzer would keep inputs that short (and grow them slowly).
	more=
	[ "$t" = transfer_sender ] && more="-max_len=4096 -len_control=0"
	"$out/bin/fuzz_$t" -max_total_time="$secs" -timeout=30 -print_final_stats=1 $more \
		-artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "$out/seeds/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	units=$(find "$out/corpus/$t" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "PASS fuzz $t: ${execs:-?} executions in ${secs}s, corpus $units inputs"
	else
		status=1
		echo "FAIL fuzz $t: exit $rc after ${execs:-?} executions; log $log"
		grep -E 'ERROR|assertion failed|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/  /'
	fi
done
exit "$status"
