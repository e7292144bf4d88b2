#!/bin/sh
# pqx bench: pqx send/serve on loopback against plain TCP (socat), ssh and scp in the same run;
# handshake latency and rate; peak memory for two file sizes.
# Usage: bench/net_bench.sh BUILD [SIZE_MIB]   (defaults: build, 1024)
#
# Everything runs on 127.0.0.1 in one temporary directory under /var/tmp: a
# pqx serve, a throwaway sshd (our own config, host key and authorized key,
# on a high port; killed at exit), socat listeners. The same random file,
# read once into the page cache, goes file to file through each tool, best
# of PQX_BENCH_ROUNDS (3) rounds after one not counted (it warms up the
# page cache's memory), the tools taking turns within each round
# (other load on the machine only ever slows a run down). Before every timed
# run the previous output is removed and dirty pages are written back
# (sync), untimed. pqx fsyncs each file (and its directory) before renaming
# it into place; ssh, scp and socat do not, so socat is also timed with a
# `sync FILE` (fsync) of its output, and both baselines are reported.
# Then: handshake + 1 KiB file as whole processes (PQX_BENCH_SMALL_RUNS, 50),
# on loopback and through bench/delay_proxy.py (a network's round trip,
# PQX_BENCH_RTT_MS, 20; 0 skips it; 10 runs each),
# bench_handshake (server CPU per handshake), and the peak RSS of pqx send and
# of a fresh pqx serve for a SIZE_MIB file and one 4 times larger (zeros).
# The sshd logs in as root (pubkey only, our key); we are root here.
set -u
BUILD=${1:-build}
MIB=${2:-1024}
top=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) B=$BUILD ;; *) B=$top/$BUILD ;; esac
PQX=$B/pqx
EXEC=$B/bench/bench_exec
HSB=$B/bench/bench_handshake
RUNS_SMALL=${PQX_BENCH_SMALL_RUNS:-50}
RTT=${PQX_BENCH_RTT_MS:-20}
ROUNDS=${PQX_BENCH_ROUNDS:-3}
for f in "$PQX" "$EXEC" "$HSB"; do
	[ -x "$f" ] || { echo "bench: $f is missing (make BUILD=$BUILD bench)"; exit 1; }
done
for c in socat ssh scp ssh-keygen; do
	command -v "$c" >/dev/null 2>&1 || { echo "bench: $c is not installed (make deps)"; exit 1; }
done
[ -x /usr/sbin/sshd ] || { echo "bench: /usr/sbin/sshd is not installed (make deps)"; exit 1; }
case $MIB in '' | *[!0-9]*) echo "bench: SIZE_MIB must be a number"; exit 2 ;; esac
case $RTT in '' | *[!0-9]*) echo "bench: PQX_BENCH_RTT_MS must be a number of milliseconds"; exit 2 ;; esac

dir=$(mktemp -d /var/tmp/pqx-net.XXXXXX) || exit 1
serve_pid="" sshd_pid="" lis_pid="" proxy_pids=""
cleanup() {
	for p in $lis_pid $serve_pid $sshd_pid $proxy_pids; do
		kill "$p" 2>/dev/null
	done
	for p in $lis_pid $serve_pid $sshd_pid $proxy_pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$dir" || exit 1
# pqx's state (the server's chunk index) stays in the run's directory, not the user's ~/.config/pqx.
export PQX_CONFIG_DIR="$dir/cfg"

. "$top/bench/lib.sh"
# field NAME LINE: the value after NAME in a bench_exec line.
field() { echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
# best OLD NEW: the smaller (empty OLD: NEW).
best() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a == "" || b + 0 < a + 0) ? b : a) }'; }

# ---- the data: one random file, cached ----
head -c "$((MIB * 1048576))" /dev/urandom >in.bin || fail "can't write $dir/in.bin"
head -c 1024 /dev/urandom >small.bin
cat in.bin >/dev/null
sync # its writeback would otherwise run through the first round

# ---- pqx serve ----
"$PQX" keygen -o server.key 2>/dev/null && "$PQX" keygen -o client.key 2>/dev/null || fail "pqx keygen failed"
SK=$("$PQX" keygen -y server.key)
echo "$("$PQX" keygen -y client.key) bench" >authorized
mkdir srv
# start_serve: a fresh pqx serve on a new port (sets serve_pid, PP).
start_serve() {
	PP=$(free_port) || fail "no free port"
	"$PQX" serve -q --root srv --identity server.key --authorized authorized \
		--listen "127.0.0.1:$PP" 2>>serve.log &
	serve_pid=$!
	wait_listen "$PP" || fail "pqx serve did not start: $(tail -3 serve.log)"
}
stop_serve() {
	kill "$serve_pid" 2>/dev/null
	wait "$serve_pid" 2>/dev/null
	serve_pid=""
}
start_serve
PSEND="$PQX send -q -i client.key --server-key $SK"

# ---- a throwaway sshd, as root ----
start_sshd
SSHO="$SSHO -o LogLevel=ERROR"
SSH="ssh $SSHO -p $SP root@127.0.0.1"
SCP="scp -q $SSHO -P $SP"
# shellcheck disable=SC2086
$SSH true </dev/null || fail "ssh to the test sshd failed: $(cat sshd.log)"
kex=$(ssh -v $SSHO -p "$SP" root@127.0.0.1 true </dev/null 2>&1 | sed -n 's/.*debug1: kex: algorithm: //p' | head -1)

# kids_ms VAR: this shell's waited-for children's CPU so far (ms) into VAR
# (times runs in this shell; a $(...) would ask a subshell).
kids_ms() {
	times >"$dir/times.out"
	eval "$1=\$(awk 'NR == 2 { s = 0; for (i = 1; i <= NF; i++) { split(\$i, a, \"m\"); s += a[1] * 60 + a[2] } print s * 1000 }' \"\$dir/times.out\")"
}
# socat_round: one plain TCP transfer; sets s_plain and s_sync (wall ms), s_cpu
# (both socats' CPU, ms).
socat_round() {
	rm -f out.socat
	sync
	LP=$(free_port) || fail "no free port"
	kids_ms k0
	socat -b1048576 -u "TCP-LISTEN:$LP,reuseaddr,bind=127.0.0.1" CREATE:out.socat &
	lis_pid=$!
	wait_listen "$LP" || fail "socat did not listen"
	t0=$(now)
	socat -b1048576 -u FILE:in.bin "TCP:127.0.0.1:$LP" || fail "socat send failed"
	wait "$lis_pid" || fail "socat receive failed"
	lis_pid=""
	t1=$(now)
	kids_ms k1
	sync out.socat || fail "sync failed"
	t2=$(now)
	s_plain=$(ms "$t0" "$t1") s_sync=$(ms "$t0" "$t2")
	s_cpu=$(awk -v a="$k0" -v b="$k1" 'BEGIN { print b - a }')
	cmp -s in.bin out.socat || fail "socat: output differs"
}

# timed VAR SERVER_PID CHECK BEFORE [-i IN] -- CMD...: one bench_exec run. VAR:
# the best wall ms so far; VAR_cpu: the least CPU ms so far of the client
# (with its children) and the server process (its threads and reaped children);
# VAR_last: this run's wall ms. In the warm-up round (counted=0) only VAR_last.
timed() {
	var=$1 spid=$2 chk=$3 pre=$4
	shift 4
	c0=$(cpu_ms "$spid")
	line=$("$EXEC" -n 1 -b "$pre" "$@") || fail "$* failed"
	settle "$spid"
	c1=$(cpu_ms "$spid")
	eval "${var}_last=$(field median_ms "$line")"
	if [ "$counted" = 1 ]; then
		eval "$var=\$(best \"\${$var:-}\" $(field median_ms "$line"))"
		eval "${var}_cpu=\$(best \"\${${var}_cpu:-}\" $(awk -v a="$c0" -v b="$c1" -v c="$(field cpu_ms "$line")" 'BEGIN { print b - a + c }'))"
	fi
	cmp -s in.bin "$chk" || fail "$chk differs from in.bin"
}

cores=$(nproc)
echo "== pqx over loopback: $MIB MiB random file (page cache), file to file, $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo "   pqx $("$PQX" version | cut -d' ' -f2), $(ssh -V 2>&1 | cut -d, -f1) (kex ${kex:-?}), socat $(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')"
tp="" ts="" tq="" th="" tc="" to=""
# Round 0 warms up and is not counted: each tool's first output file takes
# page-cache memory this VM has not touched yet, which made every tool's
# first round 2-5 times slower than the rest; from then on each rewrites
# its own freed pages.
round=0
while [ "$round" -le "$ROUNDS" ]; do
	counted=$((round > 0))
	socat_round
	if [ "$counted" = 1 ]; then
		tp=$(best "$tp" "$s_plain")
		tp_cpu=$(best "${tp_cpu:-}" "$s_cpu")
		ts=$(best "$ts" "$s_sync")
	fi
	# shellcheck disable=SC2086
	timed tq "$serve_pid" srv/in.bin "rm -f srv/in.bin; sync" -- $PSEND in.bin "pqx://127.0.0.1:$PP/"
	# shellcheck disable=SC2086
	timed th "$sshd_pid" out.ssh "rm -f out.ssh; sync" -i in.bin -- $SSH "cat > $dir/out.ssh"
	# shellcheck disable=SC2086
	timed tc "$sshd_pid" out.scp "rm -f out.scp; sync" -- $SCP in.bin "root@127.0.0.1:$dir/out.scp"
	# shellcheck disable=SC2086
	timed to "$sshd_pid" out.scpo "rm -f out.scpo; sync" -- $SCP -O in.bin "root@127.0.0.1:$dir/out.scpo"
	if [ "$counted" = 1 ]; then
		echo "   round $round: socat $s_plain ms (+sync $s_sync; $s_cpu ms CPU); best so far: pqx $tq ($tq_cpu CPU), ssh $th, scp $tc, scp -O $to"
	else
		echo "   round 0 (warm-up, not counted): socat $s_plain ms (+sync $s_sync), pqx $tq_last, ssh $th_last, scp $tc_last, scp -O $to_last"
	fi
	round=$((round + 1))
done
rm -f out.socat out.ssh out.scp out.scpo

row() { # LABEL MS CPU_MS
	awk -v l="$1" -v t="$2" -v c="$3" -v m="$MIB" -v q="$tq" -v qc="$tq_cpu" 'BEGIN {
		printf "  %-50s %7.3f s %6.0f MiB/s %6.2fx", l, t / 1000, m / (t / 1000), t / q
		if (c == "-") printf "        -\n"; else printf " %7.2f s %6.2fx\n", c / 1000, c / qc }'
}
echo
echo "  transfer, $MIB MiB file to file (best of $ROUNDS)      wall  throughput  wall/pqx   CPU, both ends  CPU/pqx"
row "plain TCP: socat -b1048576 (no fsync)" "$tp" "$tp_cpu"
row "plain TCP + fsync: socat, then sync FILE" "$ts" -
row "pqx send -> pqx serve (fsync + rename)" "$tq" "$tq_cpu"
row "ssh -c aes256-gcm@openssh.com 'cat > f'" "$th" "$th_cpu"
row "scp -c aes256-gcm@openssh.com (SFTP)" "$tc" "$tc_cpu"
row "scp -O -c aes256-gcm@openssh.com (scp protocol)" "$to" "$to_cpu"
echo "  (ssh, scp and socat do not fsync; CPU: user + system of both ends' processes,"
echo "  pqx serve's including the indexing it finishes after it confirms the file)"
awk -v p="$tp" -v s="$ts" -v q="$tq" -v c="$tc" -v o="$to" -v h="$th" 'BEGIN {
	printf "  wall: pqx / plain TCP          %5.2fx   (target <= 1.25x)  %s\n", q / p, (q / p <= 1.25 ? "met" : "NOT MET")
	printf "  wall: pqx / plain TCP + fsync  %5.2fx   (target <= 1.25x)  %s\n", q / s, (q / s <= 1.25 ? "met" : "NOT MET")
	printf "  wall: scp / pqx                %5.2fx   (target >= 3x)     %s\n", c / q, (c / q >= 3 ? "met" : "NOT MET")
	printf "  wall: scp -O / pqx             %5.2fx\n", o / q
	printf "  wall: ssh cat / pqx            %5.2fx\n", h / q
}'

# ---- handshake + 1 KiB, whole processes ----
echo
echo "  handshake + 1 KiB file, end to end ($RUNS_SMALL runs each; wall: the whole"
echo "  client process; CPU: client median, server mean per connection, 10 ms ticks)"
echo "                                                            wall median      min  client CPU  server CPU"
small() { # LABEL SERVER_PID ARGS...
	label=$1 spid=$2
	shift 2
	c0=$(cpu_ms "$spid")
	line=$("$EXEC" -n "$RUNS_SMALL" "$@") || fail "$label failed"
	c1=$(cpu_ms "$spid")
	printf '  %-56s %8.2f ms %6.2f ms %8.2f ms %8.2f ms\n' "$label" "$(field median_ms "$line")" \
		"$(field min_ms "$line")" "$(field cpu_ms "$line")" \
		"$(awk -v a="$c0" -v b="$c1" -v n="$RUNS_SMALL" 'BEGIN { print (b - a) / n }')"
	small_med=$(field median_ms "$line")
}
# shellcheck disable=SC2086
small "pqx send (new file: written, fsynced, renamed)" "$serve_pid" -b "rm -f srv/small.bin" -- $PSEND small.bin "pqx://127.0.0.1:$PP/"
pqx_small=$small_med
# shellcheck disable=SC2086
small "pqx send (already there: handshake + quick check)" "$serve_pid" -- $PSEND small.bin "pqx://127.0.0.1:$PP/"
# shellcheck disable=SC2086
small "ssh -c aes256-gcm@openssh.com 'cat > f' <f (no fsync)" "$sshd_pid" -i small.bin -- $SSH "cat > $dir/small.ssh"
ssh_small=$small_med
# shellcheck disable=SC2086
small "ssh ... 'cat > f && sync f' <f" "$sshd_pid" -i small.bin -- $SSH "cat > $dir/small.ssh && sync $dir/small.ssh"
# shellcheck disable=SC2086
small "ssh -o KexAlgorithms=curve25519-sha256 (not PQ) 'cat > f'" "$sshd_pid" -i small.bin -- ssh $SSHO -o KexAlgorithms=curve25519-sha256 -p "$SP" root@127.0.0.1 "cat > $dir/small.ssh"
# shellcheck disable=SC2086
small "pqx version (process start alone)" "$serve_pid" -- $PQX version
cmp -s small.bin srv/small.bin && cmp -s small.bin small.ssh || fail "small files differ"
awk -v p="$pqx_small" -v s="$ssh_small" 'BEGIN {
	printf "  pqx send of 1 KiB: %.2f ms median (target < 5 ms) %s; ssh cat / pqx %.2fx\n", p, (p < 5 ? "met" : "NOT MET"), s / p }'

# ---- the same over a network's round trip ----
if [ "$RTT" -gt 0 ]; then
	# proxy PORT: a delaying proxy to 127.0.0.1:PORT; sets DP, its port.
	proxy() {
		DP=$(free_port) || fail "no free port"
		python3 "$top/bench/delay_proxy.py" "$DP" "$1" "$(awk -v r="$RTT" 'BEGIN { print r / 2 }')" &
		proxy_pids="$proxy_pids $!"
		wait_listen "$DP" || fail "the delaying proxy did not start"
	}
	proxy "$PP"
	PDP=$DP
	proxy "$SP"
	SDP=$DP
	echo
	echo "  handshake + 1 KiB file through bench/delay_proxy.py, a round trip of $RTT ms (10 runs each)"
	RUNS_SMALL=10
	# shellcheck disable=SC2086
	small "pqx send (new file: written, fsynced, renamed)" "$serve_pid" -b "rm -f srv/small.bin" -- $PSEND small.bin "pqx://127.0.0.1:$PDP/"
	pqx_rtt=$small_med
	# shellcheck disable=SC2086
	small "pqx send (already there)" "$serve_pid" -- $PSEND small.bin "pqx://127.0.0.1:$PDP/"
	# shellcheck disable=SC2086
	small "ssh -c aes256-gcm@openssh.com 'cat > f' <f (no fsync)" "$sshd_pid" -i small.bin -- ssh $SSHO -p "$SDP" root@127.0.0.1 "cat > $dir/small.ssh"
	cmp -s small.bin srv/small.bin && cmp -s small.bin small.ssh || fail "small files differ"
	awk -v p="$pqx_rtt" -v s="$small_med" -v r="$RTT" 'BEGIN {
		printf "  pqx send of 1 KiB over %d ms: %.1f ms, %.1f round trips; ssh cat %.1f round trips (%.2fx pqx)\n", r, p, p / r, s / r, s / p }'
fi

# ---- handshakes per second on the server ----
echo
"$HSB" 2000 | sed 's/^/  /' || fail "bench_handshake failed"

# ---- memory: SIZE vs 4 x SIZE ----
echo
stop_serve
rm -f srv/in.bin
# Four copies of the random file: as many distinct chunks (index rows) as
# 4 x SIZE of random data, without the wait for it.
cat in.bin in.bin in.bin in.bin >big.bin || fail "can't write big.bin"
for f in in.bin big.bin; do
	start_serve
	rm -f "srv/$f"
	sync
	# shellcheck disable=SC2086
	line=$("$EXEC" -n 1 -- $PSEND "$f" "pqx://127.0.0.1:$PP/") || fail "pqx send $f failed"
	settle "$serve_pid" # the server indexes the file after it confirms it
	srss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$serve_pid/status")
	cmp -s "$f" "srv/$f" || fail "srv/$f differs"
	printf '  peak RSS for a %5d MiB file: pqx send %6d KiB, pqx serve %6d KiB (VmHWM, fresh server)\n' \
		"$(($(stat -c %s "$f") / 1048576))" "$(field maxrss_kib "$line")" "$srss"
	stop_serve
	rm -f "srv/$f"
done
rm -f big.bin
# 16 clients at once, each with its own 32 MiB file; then the idle server.
start_serve
head -c 32M in.bin >m32.bin
pids=""
for i in $(seq 16); do
	mkdir -p "c$i" && ln -f m32.bin "c$i/m$i.bin" || fail "can't link m32.bin"
	# shellcheck disable=SC2086
	$PSEND "c$i/m$i.bin" "pqx://127.0.0.1:$PP/" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a concurrent pqx send failed"
done
settle "$serve_pid"
for i in $(seq 16); do
	cmp -s m32.bin "srv/m$i.bin" || fail "srv/m$i.bin differs"
done
printf '  16 clients at once, %d MiB each: pqx serve peak %d KiB, %d KiB once idle (VmHWM, VmRSS)\n' \
	"$(($(stat -c %s m32.bin) / 1048576))" \
	"$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$serve_pid/status")" \
	"$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$serve_pid/status")"
stop_serve
rm -rf m32.bin c[0-9]* srv/m[0-9]*.bin
echo
echo "  commands (in the temporary directory; PP, SP: the ports; SK: the server's age1pq1 key):"
echo "    pqx serve -q --root srv --identity server.key --authorized authorized --listen 127.0.0.1:PP"
echo "    pqx send -q -i client.key --server-key SK in.bin pqx://127.0.0.1:PP/"
echo "    /usr/sbin/sshd -D -f sshd_config -p SP    (UsePAM no, Ciphers aes256-gcm@openssh.com, internal-sftp)"
echo "    ssh -F /dev/null -i id_client -c aes256-gcm@openssh.com -p SP root@127.0.0.1 'cat > out.ssh' <in.bin"
echo "    scp [-O] -F /dev/null -i id_client -c aes256-gcm@openssh.com -P SP in.bin root@127.0.0.1:out.scp"
echo "    socat -b1048576 -u TCP-LISTEN:LP,reuseaddr,bind=127.0.0.1 CREATE:out.socat &"
echo "    socat -b1048576 -u FILE:in.bin TCP:127.0.0.1:LP; (wait); sync out.socat"
echo "    bench_handshake 2000; bench_exec -n N -b 'rm -f OUT; sync' -- CMD... (wall from fork to exit)"
