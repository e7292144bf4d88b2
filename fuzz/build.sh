#!/bin/sh
# pqx fuzz: builds the libFuzzer targets (clang, ASan + UBSan) and their generated seed corpora into OUT.
# Usage: fuzz/build.sh OUT. Exits 0 when built, 3 (with a reason on stdout) when clang or
# libFuzzer is missing, 1 on a build failure. Used by fuzz/run.sh and fuzz/regress.sh.
set -u
out=${1:?usage: fuzz/build.sh OUT}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# Every fuzz/fuzz_NAME.c is a target.
TARGETS=$(cd "$(dirname "$0")" && ls fuzz_*.c | sed -e "s/^fuzz_//" -e "s/\\.c$//" | tr "\\n" " ")
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# DWARF 4: valgrind and older tools read it; clang 14 defaults to 5.
CFLAGS="-O1 -g -gdwarf-4"
CPPFLAGS="-std=c11 -D_DEFAULT_SOURCE -Iinclude -Isrc $(pkg-config --cflags libcrypto 2>/dev/null)"
LIBS="$(pkg-config --libs libcrypto sqlite3 libzstd 2>/dev/null || echo -lcrypto -lsqlite3 -lzstd) -lpthread -ldl"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "$CC is not installed (scripts/deps.sh installs clang)"
	exit 3
fi
mkdir -p "$out/bin" "$out/seeds" || exit 1
log=$out/build.log
: >"$log"

# libFuzzer ships with clang's compiler-rt; some installs lack it.
probe=$out/probe
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" >>"$log" 2>&1; then
	echo "$CC cannot link -fsanitize=fuzzer (libFuzzer missing)"
	exit 3
fi

# The library: the project's own rules, compiled with coverage for libFuzzer.
if ! make -s BUILD="$out/lib" CC="$CC" SANITIZE=1 CFLAGS="$CFLAGS -fsanitize=fuzzer-no-link" \
	lib >>"$log" 2>&1; then
	echo "building the library failed; see $log"
	exit 1
fi
lib=$out/lib/libpqx.a

# stale FILE DEPS...: whether FILE is missing or older than one of DEPS.
stale() {
	f=$1
	shift
	[ -f "$f" ] || return 0
	for d in "$@"; do
		[ -n "$(find "$d" -prune -newer "$f")" ] && return 0
	done
	return 1
}

for t in $TARGETS; do
	bin=$out/bin/fuzz_$t
	if stale "$bin" "fuzz/fuzz_$t.c" fuzz/fuzz.h fuzz/fuzz_chan.h "$lib"; then
		# shellcheck disable=SC2086
		if ! "$CC" $CPPFLAGS $CFLAGS -Wall -Wextra -fsanitize=fuzzer $SAN \
			"fuzz/fuzz_$t.c" "$lib" $LIBS -o "$bin" >>"$log" 2>&1; then
			echo "building fuzz_$t failed; see $log"
			exit 1
		fi
	fi
done

gen=$out/bin/gen_seeds
if stale "$gen" fuzz/gen_seeds.c "$lib"; then
	# shellcheck disable=SC2086
	if ! "$CC" $CPPFLAGS $CFLAGS -Wall -Wextra -fsanitize=fuzzer-no-link $SAN \
		fuzz/gen_seeds.c "$lib" $LIBS -o "$gen" >>"$log" 2>&1; then
		echo "building gen_seeds failed; see $log"
		exit 1
	fi
fi
rm -rf "$out/seeds" && mkdir -p "$out/seeds" || exit 1
if ! "$gen" "$out/seeds" >>"$log" 2>&1; then
	echo "generating seeds failed; see $log"
	exit 1
fi
exit 0
