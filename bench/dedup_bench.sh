#!/bin/sh
# pqx bench (issue 5, "only what is missing crosses the wire"): pqx send
# against rsync over ssh in the same run, on loopback, when the receiver
# already holds an old version of what is sent: bytes on the wire both ways
# and wall time.
# Usage: bench/dedup_bench.sh BUILD   (default build; the folder holding pqx)
#
# Scenarios (the receiver, the server side, holds the old version at the
# destination; the client sends the new one):
#  (a) a random file of PQX_DEDUP_MIB MiB (1024), new version: ten 64 KiB
#      overwrites and five 1000-byte insertions at seeded random offsets;
#  (b) real trees: npm's typescript 5.4.5 -> 5.5.4 (PQX_DEDUP_TS_OLD/NEW), and
#      two versions of one Debian package (PQX_DEDUP_DEB, libc6: the two
#      highest versions apt-cache madison lists, or PQX_DEDUP_DEB_OLD/NEW),
#      unpacked with dpkg-deb -x; downloads are cached in PQX_BENCH_CACHE
#      (/var/tmp/pqx-bench-cache); skipped, saying so, when unavailable;
#      also each new tree's first copy, into an empty destination (pqx send
#      against rsync -a);
#  (c) a shared base: a float32 "model" of PQX_DEDUP_MODEL_MIB MiB (256); in
#      the new version a random 5% of the weights get a small perturbation
#      (their low 16 mantissa bits). pqx serve and pqx send both get --dict
#      DIR, DIR holding the old version under the same name, and the
#      destination is empty; against rsync when the destination holds the old
#      version (its best case), and against the whole file (pqx send without
#      --dict, rsync, both to an empty destination). Without --dict in this
#      pqx, that row is skipped, saying so.
# pqx runs with its defaults (compression chosen by measured cost: on
# loopback the wire is faster than zstd, so it mostly sends raw) and with
# --compress 3 (always zstd level 3, rsync -az's default level), in (a) also
# with the old version sent through pqx first (untimed: a warm index); in (c) also
# with --bwlimit 119M, a 1 Gbit/s link, where its own choice is measured.
#
# Wire bytes: pqx send --json's wire_bytes_out/in (what the client wrote to
# and read from its TCP socket); for rsync -e "ssh -v ...", ssh's own
# "Transferred: sent N, received M bytes" (all of ssh's TCP payload, the
# handshake included); rsync's --stats totals are shown beside it. rsync runs
# as -a and as -az (rsync picks the compressor: zstd on rsync >= 3.2).
# Wall time: each whole command, best of PQX_BENCH_ROUNDS (3) rounds, the
# tools taking turns within each round. Before every timed run, untimed: the
# destination is rebuilt from scratch as the old version (cp -a), pqx serve is
# restarted with fresh state directories for both pqx ends (PQX_CONFIG_DIR,
# HOME; no cache from an earlier run: both tools start cold, as rsync always
# does), and dirty pages are written back (sync). After every run the
# destination is compared with the new version (cmp, diff -r); a difference
# prints a FAIL line and the script exits 1 at the end. Files left over from
# the old tree (neither pqx send nor rsync -a deletes) are only counted.
# mtimes: old files get one time, new files another, except files whose
# content did not change, which keep the old time (both tools skip a file of
# the same size and mtime without reading it: rsync's best case, and correct).
#
# PQX_DEDUP_RTT_MS=N (default 0): both tools reach their server through
# bench/delay_proxy.py, which holds every byte N/2 ms each way: a network
# round trip of N ms (no loss, no bandwidth limit; the proxy copies at a few
# hundred MB/s, so keep PQX_DEDUP_MIB and PQX_DEDUP_MODEL_MIB small).
#
# Everything runs on 127.0.0.1 in one temporary directory under /var/tmp
# (removed at exit; about 5 x PQX_DEDUP_MIB + 6 x PQX_DEDUP_MODEL_MIB MiB at
# peak): pqx serve, and a throwaway sshd (our config, host key and authorized
# key, on a high port, killed at exit) that logs in as root (we are root).
# Needs python3 (the seeded generators), rsync, ssh, sshd, cmp, diff; npm,
# apt-get and dpkg-deb for (b). About 2 to 3 minutes at the default sizes on
# two cores.
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) B=$BUILD ;; *) B=$top/$BUILD ;; esac
PQX=$B/pqx
ROUNDS=${PQX_BENCH_ROUNDS:-3}
MIB=${PQX_DEDUP_MIB:-1024}
MMIB=${PQX_DEDUP_MODEL_MIB:-256}
CACHE=${PQX_BENCH_CACHE:-/var/tmp/pqx-bench-cache}
TS_OLD=${PQX_DEDUP_TS_OLD:-5.4.5}
TS_NEW=${PQX_DEDUP_TS_NEW:-5.5.4}
DEB=${PQX_DEDUP_DEB:-libc6}
RTT=${PQX_DEDUP_RTT_MS:-0}
[ -x "$PQX" ] || { echo "bench: $PQX is missing (make BUILD=$BUILD)"; exit 1; }
for c in rsync ssh ssh-keygen python3 cmp diff; do
	command -v "$c" >/dev/null 2>&1 || { echo "bench: $c is not installed"; exit 1; }
done
[ -x /usr/sbin/sshd ] || { echo "bench: /usr/sbin/sshd is not installed (make deps)"; exit 1; }
for v in "$ROUNDS" "$MIB" "$MMIB"; do
	case $v in '' | *[!0-9]* | 0) echo "bench: PQX_BENCH_ROUNDS, PQX_DEDUP_MIB and PQX_DEDUP_MODEL_MIB must be positive numbers"; exit 2 ;; esac
done
case $RTT in '' | *[!0-9]*) echo "bench: PQX_DEDUP_RTT_MS must be a number of milliseconds"; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "bench: the sshd peer runs as root (it logs in as root on 127.0.0.1)"; exit 1; }
need=$((5 * MIB + 6 * MMIB + 512))
avail=$(df -Pm /var/tmp | awk 'NR == 2 { print $4 }')
[ "${avail:-0}" -ge "$need" ] || { echo "bench: /var/tmp has ${avail:-?} MiB free, $need needed"; exit 1; }

dir=$(mktemp -d /var/tmp/pqx-dedup.XXXXXX) || exit 1
serve_pid="" sshd_pid="" delay_pid="" sdelay_pid=""
cleanup() {
	for p in $serve_pid $sshd_pid $delay_pid $sdelay_pid; do
		kill "$p" 2>/dev/null
	done
	for p in $serve_pid $sshd_pid $delay_pid $sdelay_pid; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$dir" || exit 1
status=0

. "$top/bench/lib.sh"
# secs FROM TO: seconds between two now() stamps.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---- the seeded generators ----
cat >gen.py <<'EOF'
import os, random, sys
MiB = 1 << 20

def copy(fi, fo, n):
    while n > 0:
        b = fi.read(min(n, 4 * MiB))
        if not b:
            break
        fo.write(b)
        n -= len(b)

def rand(out, mib, seed):
    r = random.Random(seed)
    with open(out, 'wb') as f:
        for _ in range(mib):
            f.write(r.randbytes(MiB))

def edit(old, new, seed):
    # ten 64 KiB overwrites and five 1000-byte insertions, offsets in the old file
    size = os.path.getsize(old)
    r = random.Random(seed)
    ev = [(r.randrange(0, max(1, size - 65536)), 0, r.randbytes(65536)) for _ in range(10)]
    ev += [(r.randrange(0, size + 1), 1, r.randbytes(1000)) for _ in range(5)]
    ev.sort(key=lambda e: (e[0], -e[1]))
    with open(old, 'rb') as fi, open(new, 'wb') as fo:
        pos = 0
        for off, kind, data in ev:
            if off > pos:
                copy(fi, fo, off - pos)
                pos = off
            fo.write(data)
            if kind == 0:  # overwrite: skip as many old bytes
                n = min(len(data), size - pos)
                fi.seek(n, 1)
                pos += n
        copy(fi, fo, size - pos)

def model(old, new, mib, seed):
    # float32 weights, |w| about 1e-4 to 0.12, random signs; in the new
    # version a random 5% of them get new low 16 mantissa bits (a relative
    # change below 1%).
    r = random.Random(seed)
    ex = [0x3A] * 13 + [0x3B] * 26 + [0x3C] * 44 + [0x3D] * 45
    table = bytes((b & 0x80) | ex[b & 0x7f] for b in range(256))
    n = MiB // 4  # floats per MiB
    with open(old, 'wb') as fo, open(new, 'wb') as fn:
        for _ in range(mib):
            buf = bytearray(r.randbytes(MiB))
            buf[3::4] = bytes(buf[3::4]).translate(table)
            fo.write(buf)
            lo = memoryview(buf).cast('H')  # little-endian: the low half of float i is lo[2 * i]
            for i in r.sample(range(n), n // 20):
                lo[2 * i] ^= r.randrange(1, 65536)
            lo.release()
            fn.write(buf)

cmd = sys.argv[1]
if cmd == 'rand':
    rand(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif cmd == 'edit':
    edit(sys.argv[2], sys.argv[3], int(sys.argv[4]))
elif cmd == 'model':
    model(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
EOF

# stamp OLD NEW: mtimes: everything in OLD (a file or a tree) gets T0; in NEW,
# what has the same content as in OLD gets T0 too, the rest T1.
T0=1700000000 T1=1700086400
stamp() {
	find "$1" -exec touch -h -d "@$T0" {} + || fail "touch failed"
	if [ ! -d "$2" ]; then
		touch -d "@$T1" "$2" || fail "touch failed"
		return 0
	fi
	(cd "$2" && find . ! -type d) | while IFS= read -r f; do
		t=$T1
		if [ -L "$2/$f" ]; then
			[ -L "$1/$f" ] && [ "$(readlink "$1/$f")" = "$(readlink "$2/$f")" ] && t=$T0
		elif [ -f "$1/$f" ] && [ ! -L "$1/$f" ] && cmp -s "$1/$f" "$2/$f"; then
			t=$T0
		fi
		touch -h -d "@$t" "$2/$f"
	done
	find "$2" -type d -exec touch -d "@$T1" {} +
}

# ---- keys, pqx serve (restarted for every run) ----
"$PQX" keygen -o server.key 2>/dev/null && "$PQX" keygen -o client.key 2>/dev/null || fail "pqx keygen failed"
SK=$("$PQX" keygen -y server.key)
echo "$("$PQX" keygen -y client.key) bench" >authorized
has_dict=1
"$PQX" send --help 2>&1 | grep -q -- '--dict' && "$PQX" serve --help 2>&1 | grep -q -- '--dict' || has_dict=0
# delay PORT: with PQX_DEDUP_RTT_MS, a delaying proxy to 127.0.0.1:PORT
# (sets DPORT, the port to use, and DPID; without, DPORT is PORT).
delay() {
	DPORT=$1 DPID=""
	[ "$RTT" -gt 0 ] || return 0
	DPORT=$(free_port) || fail "no free port"
	python3 "$top/bench/delay_proxy.py" "$DPORT" "$1" "$(awk -v r="$RTT" 'BEGIN { print r / 2 }')" &
	DPID=$!
	wait_listen "$DPORT" || fail "the delaying proxy did not start"
}
# start_serve ROOT [ARGS...]: a fresh pqx serve on a new port with fresh state
# (sets serve_pid, PP: the port clients use).
start_serve() {
	sroot=$1
	shift
	port=$(free_port) || fail "no free port"
	mkdir -p "$dir/state/srv"
	PQX_CONFIG_DIR=$dir/state/srv HOME=$dir/state/srv "$PQX" serve -q --root "$sroot" \
		--identity server.key --authorized authorized --listen "127.0.0.1:$port" "$@" 2>>serve.log &
	serve_pid=$!
	wait_listen "$port" || fail "pqx serve did not start: $(tail -3 serve.log)"
	delay "$port"
	PP=$DPORT delay_pid=$DPID
}
stop_serve() {
	for p in $serve_pid $delay_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	serve_pid="" delay_pid=""
}

# ---- a throwaway sshd, as root ----
start_sshd
delay "$SP"
SP=$DPORT sdelay_pid=$DPID
# ssh -v: its "Transferred: sent N, received M bytes" line (debug1) is the
# wire count; -v comes first so that it sets the log level.
RSH="ssh -v $SSHO -p $SP"
# shellcheck disable=SC2086
ssh $SSHO -o LogLevel=ERROR -p "$SP" root@127.0.0.1 true </dev/null || fail "ssh to the test sshd failed: $(cat sshd.log)"
# shellcheck disable=SC2086
zc=$(rsync -az --debug=NSTR -e "ssh $SSHO -o LogLevel=ERROR -p $SP" id_client.pub "root@127.0.0.1:$dir/zc.tmp" 2>&1 |
	sed -n 's/^Client negotiated compress: \(.*\)/\1/p' | head -1)
rm -f zc.tmp

# ---- one timed run of each tool ----
# record KEY SECONDS OUT IN NOTE: keeps the fastest run's line in res.KEY.
record() {
	if [ ! -f "res.$1" ] || awk -v t="$2" '{ exit !(t < $1) }' "res.$1"; then
		printf '%s %s %s %s\n' "$2" "$3" "$4" "$5" >"res.$1"
	fi
	rline="$rline $1 $2 s,"
}
# verify LABEL NEW GOT: GOT (a file or a tree) must equal NEW; files only in
# GOT (left from the old version) are counted, not failed, and so are links
# with an absolute target only in NEW (pqx refuses a link that leaves the
# transfer, as rsync --safe-links does: libc6's lib64/ld-linux-x86-64.so.2).
verify() {
	if [ -d "$2" ]; then
		diff -r -q --no-dereference "$2" "$3" >diff.out 2>&1
		extra=$(grep -c "^Only in $3" diff.out)
		grep "^Only in $2" diff.out | while IFS= read -r line; do
			d=${line#Only in } n=${line#*: }
			d=${d%%: *}
			[ -L "$d/$n" ] && case $(readlink "$d/$n") in /*) printf '%s\n' "$line" ;; esac
		done >diff.links
		if grep -v "^Only in $3" diff.out | grep -v -x -F -f diff.links >diff.bad; then
			echo "FAIL dedup: $1: the destination differs from the new version: $(head -3 diff.bad | tr '\n' ' ')"
			status=1
			: >"failed.$key"
		fi
		[ "$extra" -eq 0 ] || echo "$extra" >"extra.$key"
		[ ! -s diff.links ] || wc -l <diff.links >"links.$key"
	elif ! cmp -s "$2" "$3"; then
		echo "FAIL dedup: $1: the destination differs from the new version ($(cmp "$2" "$3" 2>&1 | head -1))"
		status=1
		: >"failed.$key"
	fi
}
# restore DST ITEM...: DST holds exactly copies of ITEM... (none: empty).
restore() {
	rd=$1
	shift
	rm -rf "$rd" && mkdir -p "$rd" || fail "can't reset $rd"
	[ $# -eq 0 ] || cp -a "$@" "$rd/" || fail "can't copy the old version into $rd"
}
json_num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" pqx.json; }
# XARGS: more options for pqx send (the --compress 3 rows). WARM=1: the old
# version reaches the destination through pqx (untimed), so the server's
# index already knows it, as when each version is sent with pqx.
XARGS=""
WARM=0
# pqx_run KEY LABEL SRC OLD|- [--dict DIR_SERVER DIR_CLIENT]: destination
# p/dst (holding OLD, or empty for -); the result is p/dst/$(basename SRC).
pqx_run() {
	key=$1 label=$2 src=$3 old=$4
	shift 4
	if [ "$old" = - ] || [ "$WARM" = 1 ]; then restore p/dst; else restore p/dst "$old"; fi
	rm -rf state && mkdir -p state/cli || fail "can't reset state"
	sargs="" cargs=""
	if [ $# -gt 0 ]; then
		sargs="--dict $2" cargs="--dict $3"
	fi
	# shellcheck disable=SC2086
	start_serve p $sargs
	if [ "$WARM" = 1 ]; then
		# Untimed: the old version arrives with pqx, so the server's index knows it.
		PQX_CONFIG_DIR=$dir/state/cli HOME=$dir/state/cli "$PQX" send -q -i client.key \
			--server-key "$SK" "$old" "pqx://127.0.0.1:$PP/dst" 2>pqx.err ||
			fail "$label: the untimed first send failed: $(tail -3 pqx.err | tr '\n' ' ')"
		settle "$serve_pid" # the server indexes it after it confirms it
	fi
	sync
	t0=$(now)
	# shellcheck disable=SC2086
	PQX_CONFIG_DIR=$dir/state/cli HOME=$dir/state/cli "$PQX" send -q --json -i client.key \
		--server-key "$SK" $cargs $XARGS "$src" "pqx://127.0.0.1:$PP/dst" >pqx.json 2>pqx.err
	rc=$?
	t1=$(now)
	stop_serve
	[ "$rc" -eq 0 ] || fail "$label: pqx send failed ($rc): $(tail -3 pqx.err | tr '\n' ' ')"
	verify "$label" "$src" "p/dst/$(basename "$src")"
	record "$key" "$(secs "$t0" "$t1")" "$(json_num wire_bytes_out)" "$(json_num wire_bytes_in)" \
		"file_bytes_moved=$(json_num bytes_moved)/$(json_num bytes),pqx_seconds=$(json_num seconds)"
}
# rsync_run KEY LABEL OPTS SRC OLD|-: rsync OPTS SRC into r/dst (holding OLD,
# or empty for -).
rsync_run() {
	key=$1 label=$2 opts=$3 src=$4 old=$5
	if [ "$old" = - ]; then restore r/dst; else restore r/dst "$old"; fi
	sync
	t0=$(now)
	# shellcheck disable=SC2086
	rsync $opts --stats --no-human-readable -e "$RSH" "$src" "root@127.0.0.1:$dir/r/dst/" >rsync.out 2>rsync.err
	rc=$?
	t1=$(now)
	[ "$rc" -eq 0 ] || fail "$label: rsync failed ($rc): $(grep -v '^debug' rsync.err | tail -3 | tr '\n' ' ')"
	wire=$(sed -n 's/.*Transferred: sent \([0-9]*\), received \([0-9]*\) bytes.*/\1 \2/p' rsync.err | tail -1)
	[ -n "$wire" ] || fail "$label: no 'Transferred:' line from ssh -v"
	ss=$(sed -n 's/^Total bytes sent: *\([0-9,]*\).*/\1/p' rsync.out | tr -d ,)
	sr=$(sed -n 's/^Total bytes received: *\([0-9,]*\).*/\1/p' rsync.out | tr -d ,)
	verify "$label" "$src" "r/dst/$(basename "$src")"
	# shellcheck disable=SC2086
	record "$key" "$(secs "$t0" "$t1")" $wire "rsync_stats_sent=$ss,received=$sr"
}

# ---- the report ----
# row KEY LABEL: one table line.
row() {
	[ -f "res.$1" ] || return 0
	x=""
	[ -f "extra.$1" ] && x=" (+$(cat "extra.$1") old files left)"
	[ -f "links.$1" ] && x="$x ($(cat "links.$1") link(s) to an absolute path not sent)"
	[ -f "failed.$1" ] && x="$x FAILED: a destination differed"
	awk -v l="$2" -v x="$x" '{
		printf "  %-42s %14d %12d %14d %9.3f   %s%s\n", l, $2, $3, $2 + $3, $1, $4, x }' "res.$1"
}
header() {
	printf '  %-42s %14s %12s %14s %9s   %s\n' "tool (best of $ROUNDS rounds)" "wire out" "wire in" "wire total" "wall s" "notes"
}
# ratio PQXKEY RSYNCKEY LABEL: pqx / rsync for wire bytes and wall time,
# against the goal (fewer bytes, at most half the time).
ratio() {
	[ -f "res.$1" ] && [ -f "res.$2" ] || return 0
	awk -v l="$3" 'NR == FNR { pt = $1; pb = $2 + $3; next } {
		rt = $1; rb = $2 + $3
		printf "  pqx / %-36s bytes %8.4fx (%s)  wall %6.3fx (goal <= 0.5x: %s)\n", l, pb / rb,
			(pb < rb ? "fewer: met" : "NOT MET"), pt / rt, (pt <= 0.5 * rt ? "met" : "NOT MET") }' "res.$1" "res.$2"
}

cores=$(nproc)
echo "== pqx vs rsync over ssh, on loopback: bytes on the wire and wall time when the receiver holds an old version"
echo "   $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); pqx $("$PQX" version | cut -d' ' -f2),"
echo "   $(rsync --version | head -1 | sed 's/  */ /g'), -az compressor: ${zc:-?}; $(ssh -V 2>&1 | cut -d, -f1) -c aes256-gcm@openssh.com"
[ "$RTT" -eq 0 ] || echo "   both through bench/delay_proxy.py: a round trip of $RTT ms"
mkdir -p p r "$CACHE" 2>/dev/null

# ---- (a) a big random file, a few edits ----
mkdir -p a/old a/new
python3 gen.py rand a/old/data.bin "$MIB" 1 && python3 gen.py edit a/old/data.bin a/new/data.bin 2 ||
	fail "the generator failed"
stamp a/old/data.bin a/new/data.bin
cat a/new/data.bin >/dev/null
echo
echo "== (a) $MIB MiB random file; new version: ten 64 KiB overwrites, five 1000-byte insertions (seeded)"
round=0
while [ "$round" -lt "$ROUNDS" ]; do
	round=$((round + 1)) rline=""
	pqx_run a_pqx "(a) pqx send" a/new/data.bin a/old/data.bin
	XARGS="--compress 3"
	pqx_run a_pqxz "(a) pqx send --compress 3" a/new/data.bin a/old/data.bin
	XARGS=""
	WARM=1
	pqx_run a_pqxw "(a) pqx send, warm index" a/new/data.bin a/old/data.bin
	WARM=0
	rsync_run a_ra "(a) rsync -a" -a a/new/data.bin a/old/data.bin
	rsync_run a_raz "(a) rsync -az" -az a/new/data.bin a/old/data.bin
	echo "   round $round:$rline" | sed 's/,$//'
done
header
row a_pqx "pqx send"
row a_pqxz "pqx send --compress 3"
row a_pqxw "pqx send (old version sent with pqx)"
row a_ra "rsync -a"
row a_raz "rsync -az"
ratio a_pqx a_ra "rsync -a"
ratio a_pqx a_raz "rsync -az"
ratio a_pqxz a_raz "rsync -az (pqx --compress 3)"
ratio a_pqxw a_ra "rsync -a (pqx warm index)"
rm -rf a p/dst r/dst

# ---- (b) real trees ----
# tree_case TAG LABEL OLDTREE NEWTREE: old and new trees of the same name.
tree_case() {
	stamp "$3" "$4"
	nf=$(find "$4" ! -type d | wc -l) sz=$(du -sk --apparent-size "$4" | cut -f1)
	nfo=$(find "$3" ! -type d | wc -l) szo=$(du -sk --apparent-size "$3" | cut -f1)
	chg=$( (cd "$4" && find . ! -type d -newermt "@$T0") | wc -l)
	echo
	echo "== $2: old $nfo files, $szo KiB; new $nf files, $sz KiB, $chg of them new or changed"
	round=0
	while [ "$round" -lt "$ROUNDS" ]; do
		round=$((round + 1)) rline=""
		pqx_run "$1_pqx" "$2: pqx send" "$4" "$3"
		XARGS="--compress 3"
		pqx_run "$1_pqxz" "$2: pqx send --compress 3" "$4" "$3"
		XARGS=""
		rsync_run "$1_ra" "$2: rsync -a" -a "$4" "$3"
		rsync_run "$1_raz" "$2: rsync -az" -az "$4" "$3"
		# The first copy: the new tree into an empty destination.
		pqx_run "$1_pqx0" "$2: pqx send, first copy" "$4" -
		rsync_run "$1_ra0" "$2: rsync -a, first copy" -a "$4" -
		echo "   round $round:$rline" | sed 's/,$//'
	done
	header
	row "$1_pqx" "pqx send"
	row "$1_pqxz" "pqx send --compress 3"
	row "$1_ra" "rsync -a"
	row "$1_raz" "rsync -az"
	row "$1_pqx0" "pqx send (first copy, dst empty)"
	row "$1_ra0" "rsync -a (first copy, dst empty)"
	ratio "$1_pqx" "$1_ra" "rsync -a"
	ratio "$1_pqx" "$1_raz" "rsync -az"
	ratio "$1_pqxz" "$1_raz" "rsync -az (pqx --compress 3)"
	ratio "$1_pqx0" "$1_ra0" "rsync -a (first copy)"
	rm -rf p/dst r/dst
}

# npm's typescript: old tree at the destination, the new one sent.
ts_ok=1
for v in "$TS_OLD" "$TS_NEW"; do
	if [ ! -s "$CACHE/typescript-$v.tgz" ]; then
		if ! command -v npm >/dev/null 2>&1; then
			echo && echo "== SKIP (b) typescript $TS_OLD -> $TS_NEW: npm is not installed and $CACHE has no typescript-$v.tgz"
			ts_ok=0
			break
		fi
		(cd "$CACHE" && npm pack --silent "typescript@$v" >/dev/null 2>"$dir/npm.err")
		if [ ! -s "$CACHE/typescript-$v.tgz" ]; then
			echo && echo "== SKIP (b) typescript $TS_OLD -> $TS_NEW: npm pack typescript@$v failed: $(tail -2 "$dir/npm.err" | tr '\n' ' ')"
			ts_ok=0
			break
		fi
	fi
done
if [ "$ts_ok" -eq 1 ]; then
	mkdir -p b/old b/new
	tar -xzf "$CACHE/typescript-$TS_OLD.tgz" -C b/old && mv b/old/package b/old/typescript &&
		tar -xzf "$CACHE/typescript-$TS_NEW.tgz" -C b/new && mv b/new/package b/new/typescript ||
		fail "can't unpack the typescript packages"
	tree_case b_ts "(b) npm typescript $TS_OLD -> $TS_NEW" b/old/typescript b/new/typescript
	rm -rf b
fi

# Two versions of one Debian package, unpacked.
deb_old=${PQX_DEDUP_DEB_OLD:-} deb_new=${PQX_DEDUP_DEB_NEW:-} deb_ok=1
if ! command -v dpkg-deb >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo && echo "== SKIP (b) Debian package $DEB: apt-get or dpkg-deb is missing"
	deb_ok=0
elif [ -z "$deb_old" ] || [ -z "$deb_new" ]; then
	vs=$(apt-cache madison "$DEB" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); if (!s[$2]++) print $2 }')
	deb_new=$(echo "$vs" | sed -n 1p) deb_old=$(echo "$vs" | sed -n 2p)
	if [ -z "$deb_old" ]; then
		echo && echo "== SKIP (b) Debian package $DEB: apt's sources have only ${deb_new:-no} version (apt-cache madison $DEB); set PQX_DEDUP_DEB to a package with two"
		deb_ok=0
	fi
fi
if [ "$deb_ok" -eq 1 ]; then
	mkdir -p b/old b/new
	for v in "$deb_old" "$deb_new"; do
		cd_=$CACHE/deb/$DEB/$v
		if ! ls "$cd_"/*.deb >/dev/null 2>&1; then
			mkdir -p "$cd_" && (cd "$cd_" && apt-get download "$DEB=$v" >"$dir/apt.out" 2>&1)
		fi
		if ! ls "$cd_"/*.deb >/dev/null 2>&1; then
			echo && echo "== SKIP (b) Debian package $DEB: apt-get download $DEB=$v failed: $(grep -v '^W:' "$dir/apt.out" | tail -2 | tr '\n' ' ')"
			deb_ok=0
			break
		fi
	done
	if [ "$deb_ok" -eq 1 ]; then
		dpkg-deb -x "$(ls "$CACHE/deb/$DEB/$deb_old"/*.deb | head -1)" "b/old/$DEB" &&
			dpkg-deb -x "$(ls "$CACHE/deb/$DEB/$deb_new"/*.deb | head -1)" "b/new/$DEB" ||
			fail "dpkg-deb -x failed"
		tree_case b_deb "(b) Debian $DEB $deb_old -> $deb_new" "b/old/$DEB" "b/new/$DEB"
	fi
	rm -rf b
fi

# ---- (c) a shared base: model weights, 5% of them perturbed ----
mkdir -p c/old c/new c/dict-srv c/dict-cli
python3 gen.py model c/old/model.bin c/new/model.bin "$MMIB" 3 || fail "the generator failed"
stamp c/old/model.bin c/new/model.bin
cp -a c/old/model.bin c/dict-srv/ && cp -a c/old/model.bin c/dict-cli/ || fail "can't copy the base"
cat c/new/model.bin >/dev/null
echo
echo "== (c) shared base: $MMIB MiB of float32 weights; new version: a random 5% of them perturbed (low 16 mantissa bits)"
[ "$has_dict" -eq 1 ] || echo "   SKIP pqx send --dict: this pqx has no --dict option yet (pqx send --help); that row is left out"
# dict_clean: the dict directories hold only the base (no state from an earlier run).
dict_clean() {
	for d in c/dict-srv c/dict-cli; do
		find "$d" -mindepth 1 ! -name model.bin -exec rm -rf {} + 2>/dev/null
		cmp -s c/old/model.bin "$d/model.bin" || fail "$d/model.bin was changed"
	done
}
round=0
while [ "$round" -lt "$ROUNDS" ]; do
	round=$((round + 1)) rline=""
	if [ "$has_dict" -eq 1 ]; then
		dict_clean
		pqx_run c_pqxd "(c) pqx send --dict" c/new/model.bin - --dict "$dir/c/dict-srv" "$dir/c/dict-cli"
		dict_clean
		XARGS="--compress 3"
		pqx_run c_pqxdz "(c) pqx send --dict --compress 3" c/new/model.bin - --dict "$dir/c/dict-srv" "$dir/c/dict-cli"
		dict_clean
		XARGS="--bwlimit 119M"
		pqx_run c_pqxdb "(c) pqx send --dict --bwlimit 119M" c/new/model.bin - --dict "$dir/c/dict-srv" "$dir/c/dict-cli"
		XARGS=""
	fi
	rsync_run c_ra "(c) rsync -a, old at dst" -a c/new/model.bin c/old/model.bin
	rsync_run c_raz "(c) rsync -az, old at dst" -az c/new/model.bin c/old/model.bin
	pqx_run c_pqx0 "(c) pqx send, empty dst" c/new/model.bin -
	rsync_run c_ra0 "(c) rsync -a, empty dst" -a c/new/model.bin -
	rsync_run c_raz0 "(c) rsync -az, empty dst" -az c/new/model.bin -
	echo "   round $round:$rline" | sed 's/,$//'
done
header
row c_pqxd "pqx send --dict (base in dicts, dst empty)"
row c_pqxdz "pqx send --dict --compress 3"
row c_pqxdb "pqx send --dict --bwlimit 119M (1 Gbit/s)"
row c_ra "rsync -a (old version at dst)"
row c_raz "rsync -az (old version at dst)"
row c_pqx0 "pqx send (whole file, dst empty)"
row c_ra0 "rsync -a (whole file, dst empty)"
row c_raz0 "rsync -az (whole file, dst empty)"
ratio c_pqxdz c_raz "rsync -az (old at dst; pqx --compress 3)"
ratio c_pqxdz c_raz0 "rsync -az (whole; pqx --compress 3)"
ratio c_pqxd c_ra "rsync -a (old at dst)"
ratio c_pqxd c_raz "rsync -az (old at dst)"
ratio c_pqxd c_ra0 "rsync -a (whole file)"
ratio c_pqxd c_raz0 "rsync -az (whole file)"
ratio c_pqx0 c_ra0 "rsync -a (both whole file)"
ratio c_pqx0 c_raz0 "rsync -az (both whole file)"
rm -rf c p/dst r/dst

echo
echo "  commands (in the temporary directory; PP, SP: the ports; SK: the server's age1pq1 key):"
echo "    pqx serve -q --root p --identity server.key --authorized authorized --listen 127.0.0.1:PP [--dict c/dict-srv]"
echo "    pqx send -q --json -i client.key --server-key SK [--dict c/dict-cli] NEW pqx://127.0.0.1:PP/dst"
echo "    rsync -a[z] --stats --no-human-readable -e 'ssh -v -F /dev/null -i id_client -c aes256-gcm@openssh.com -p SP ...' NEW root@127.0.0.1:r/dst/"
echo "    /usr/sbin/sshd -D -f sshd_config -p SP    (UsePAM no, Compression no, Ciphers aes256-gcm@openssh.com)"
echo "    wire: pqx --json wire_bytes_out/in; ssh -v 'Transferred: sent N, received M bytes'"
[ "$status" -eq 0 ] || echo "FAIL dedup: a destination differed from the new version (see above)"
exit "$status"
