#!/bin/sh
# pqx fuzz: the quick fuzz check of `make check`: builds the targets, runs each a fixed number of times.
# Usage: fuzz/regress.sh BUILD   (outputs in BUILD/fuzz, shared with make fuzz)
# Each target runs 2000 inputs mutated from the generated seeds, with a fixed
# libFuzzer seed so that a run is reproducible, then replays any crash that
# fuzz/run.sh saved in BUILD/fuzz/crashes.
set -u
BUILD=${1:-build}
out=$BUILD/fuzz
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
here=$(cd "$(dirname "$0")" && pwd)
# Every fuzz/fuzz_NAME.c is a target.
TARGETS=$(cd "$(dirname "$0")" && ls fuzz_*.c | sed -e "s/^fuzz_//" -e "s/\\.c$//" | tr "\\n" " ")
RUNS=${FUZZ_REGRESS_RUNS:-2000}

why=$(sh "$here/build.sh" "$out")
case $? in
0) ;;
3)
	echo "SKIP fuzz regress: $why"
	exit 0
	;;
*)
	echo "FAIL fuzz regress: $why"
	exit 1
	;;
esac

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in $TARGETS; do
	# New inputs go to the first folder: a scratch one, so the seeds stay as made.
	mkdir -p "$scratch/$t"
	"$out/bin/fuzz_$t" -runs="$RUNS" -seed=1 -timeout=30 \
		-artifact_prefix="$scratch/$t-" "$scratch/$t" "$out/seeds/$t" >"$scratch/$t.log" 2>&1
	rc=$?
	# Crashes saved by fuzz/run.sh here, and the fixed ones kept in the tree.
	crashes=$(find "$out/crashes" -type f -name "$t-*" 2>/dev/null;
		find "$here/crashes/$t" -type f 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ -n "$crashes" ]; then
		# shellcheck disable=SC2086
		"$out/bin/fuzz_$t" $crashes >>"$scratch/$t.log" 2>&1
		rc=$?
	fi
	if [ "$rc" -eq 0 ]; then
		n=$(echo "$crashes" | grep -c .)
		echo "PASS fuzz regress $t ($RUNS runs on generated seeds, $n saved crashes replayed)"
	else
		status=1
		echo "FAIL fuzz regress $t (exit $rc)"
		grep -E 'ERROR|assertion failed|SUMMARY|Running: ' "$scratch/$t.log" | tail -6 | sed 's/^/  /'
	fi
done
exit "$status"
