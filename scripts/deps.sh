#!/bin/sh
# pqx: installs what the build, tests and demo need on Debian 12, only when missing.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

need=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have_cmd pkg-config && pkg-config --exists "$1"; }

have_cmd cc || need="$need gcc"
have_cmd make || need="$need make"
have_cmd pkg-config || need="$need pkg-config"
have_pc libcrypto || need="$need libssl-dev"
have_pc zlib || need="$need zlib1g-dev"
# The receiver's chunk index and chunk compression (issue 5).
have_pc sqlite3 || need="$need libsqlite3-dev"
have_pc libzstd || need="$need libzstd-dev"
have_cmd valgrind || need="$need valgrind"
[ -f /usr/include/valgrind/memcheck.h ] || need="$need valgrind"
have_cmd clang || need="$need clang"
have_cmd node || need="$need nodejs"
have_cmd npm || need="$need npm"
have_cmd age || need="$need age"
[ -x /usr/bin/time ] || need="$need time"
have_cmd script || need="$need bsdutils"
# The transfer tests read which socket options pqx sets.
have_cmd strace || need="$need strace"
# The transfer tests clone blocks on an XFS image (filefrag is e2fsprogs').
[ -x /usr/sbin/mkfs.xfs ] || need="$need xfsprogs"
[ -x /usr/sbin/filefrag ] || need="$need e2fsprogs"
# The peers of bench/net_bench.sh: a throwaway sshd, ssh/scp and socat.
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
{ have_cmd ssh && have_cmd scp && have_cmd ssh-keygen; } || need="$need openssh-client"
have_cmd socat || need="$need socat"
# The peer of bench/dedup_bench.sh; bench/run.sh's SHA-256 pass.
have_cmd rsync || need="$need rsync"
have_cmd openssl || need="$need openssl"
# libFuzzer and the sanitizer runtimes of Debian 12's clang 14.
if have_cmd dpkg && ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
	need="$need libclang-rt-14-dev"
fi

if [ -n "$need" ]; then
	echo "deps: installing$need" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

# The independent peers for interop tests, pinned by the lock file.
# (again when package-lock.json is newer than the installed tree: a dependency was added)
nm="$top/tests/interop/node_modules"
if [ -f "$top/tests/interop/package.json" ] && { [ ! -f "$nm/.package-lock.json" ] ||
	[ -n "$(find "$top/tests/interop/package-lock.json" -newer "$nm/.package-lock.json")" ]; }; then
	echo "deps: installing npm packages for interop tests" >&2
	(cd "$top/tests/interop" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
exit 0
