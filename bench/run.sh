#!/bin/sh
# pqx bench: runs every benchmark, each beside the peer it is compared with in the same run.
# Usage: bench/run.sh BUILD
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2

echo "== pqx KEM cycles ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
"$BUILD/bench/bench_kem" || exit 1

# The same operations in @noble/post-quantum (JavaScript), in the same run,
# as the independent implementation we can run on this machine.
if command -v node >/dev/null 2>&1 && [ -d tests/interop/node_modules/@noble/post-quantum ]; then
	echo "== peer: @noble/post-quantum $(node -p "require('./tests/interop/node_modules/@noble/post-quantum/package.json').version") on node $(node --version)"
	node bench/noble_bench.mjs
else
	echo "== peer: @noble/post-quantum not installed (run make deps); skipped"
fi

# The records' AEADs: AES-256-GCM as records use it beside OpenSSL's, and
# OpenSSL's ChaCha20-Poly1305 (bench/bench_aead.c).
echo "== record AEADs, seal and open in place"
"$BUILD/bench/bench_aead" || exit 1

# The age format: pqx against Debian's age on one cached file, and cp.
echo "== pqx encrypt/decrypt vs age $(age --version 2>/dev/null)"
sh bench/age_bench.sh "$BUILD" "${PQX_AGE_BENCH_MIB:-1024}" || exit 1

# pqx send/serve over loopback against plain TCP (socat), ssh and scp in the
# same run; handshake latency and rate; memory (bench/net_bench.sh).
echo "== pqx send/serve on loopback vs socat, ssh and scp"
sh bench/net_bench.sh "$BUILD" "${PQX_NET_BENCH_MIB:-1024}" || exit 1

# A file's chunk tree on one thread and on all cores (bench/bench_tree.c),
# beside OpenSSL's SHA-256 of the same cached file: one pass on one thread.
echo "== a file's chunk tree, one thread and all cores, vs openssl dgst -sha256"
tf=$(mktemp /var/tmp/pqx-tree.XXXXXX) || exit 1
if head -c $((${PQX_TREE_MIB:-512} * 1048576)) /dev/urandom >"$tf" && cat "$tf" >/dev/null; then
	"$BUILD/bench/bench_tree" "$tf" || { rm -f "$tf"; exit 1; }
	t0=$(date +%s.%N)
	openssl dgst -sha256 "$tf" >/dev/null
	awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$(wc -c <"$tf")" \
		'BEGIN { printf "openssl dgst -sha256 of the same file: %.3f s, %.0f MB/s\n", b - a, n / (b - a) / 1e6 }'
else
	echo "tree: skipped: no room for the file in /var/tmp"
fi
rm -f "$tf"

# Only what is missing crosses: pqx send against rsync over ssh when the
# receiver holds an old version (bench/dedup_bench.sh).
echo "== pqx send vs rsync: what crosses when the receiver holds an old version"
sh bench/dedup_bench.sh "$BUILD" || exit 1

# A long path: two network namespaces joined by a 50 ms round trip
# (bench/tunlink.c): pqx send against rsync over ssh and socat (bench/wan_bench.sh).
echo "== pqx send vs rsync and socat over a ${PQX_WAN_RTT_MS:-50} ms round trip"
sh bench/wan_bench.sh "$BUILD" "${PQX_WAN_RTT_MS:-50}" "${PQX_WAN_MIB:-512}" || exit 1
# The same over a link of a common rate (100 Mbit/s each way, a 50 ms
# drop-tail queue), with a smaller file: there the bytes decide.
echo "== pqx send vs rsync and socat over a ${PQX_WAN_RTT_MS:-50} ms round trip at ${PQX_WAN_MBIT:-100} Mbit/s"
sh bench/wan_bench.sh "$BUILD" "${PQX_WAN_RTT_MS:-50}" "${PQX_WAN_CAP_MIB:-64}" "${PQX_WAN_MBIT:-100}" || exit 1
