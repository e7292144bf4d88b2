#!/bin/sh
# pqx bench: pqx send over a long path, against rsync over ssh and plain TCP
# (socat) in the same run. Two network namespaces are joined by
# bench/tunlink.c, which holds every packet RTT/2 ms each way (no loss, no
# rate limit but what the two cores move), so that TCP's windows and the
# tools' round trips cost what they cost on a real network.
# Usage: bench/wan_bench.sh BUILD [RTT_MS [MIB [MBIT]]]   (default 50 ms, 512 MiB,
# no rate limit; with MBIT the path is a link of that rate each way, with a
# drop-tail queue of PQX_WAN_QUEUE_MS, default 50 ms)
#
# On a random file of MIB MiB, best of PQX_BENCH_ROUNDS (3) rounds, the tools
# taking turns within each round:
#  - a first copy: pqx send into a fresh pqx serve; rsync -a over ssh
#    (-c aes256-gcm@openssh.com) into an empty folder; socat file to file;
#  - an update: the new version has ten 64 KiB overwrites and five 1000-byte
#    insertions at seeded random offsets; the receiver holds the old version
#    (pqx: sent through pqx first, untimed, and indexed; rsync: copied there).
# The kernel's socket buffer limits bound every TCP tool on such a path; the
# run prints them. Needs root, ip netns and /dev/net/tun; skips, saying so,
# without them.
set -u
BUILD=${1:-build}
RTT=${2:-50}
MIB=${3:-512}
MBIT=${4:-}
ROUNDS=${PQX_BENCH_ROUNDS:-3}
B=$(cd "$BUILD" && pwd)
PQX=$B/pqx
LINK=$B/bench/tunlink
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1 || [ ! -c /dev/net/tun ]; then
	echo "wan: skipped: needs root, ip (iproute2) and /dev/net/tun"
	exit 0
fi
dir=$(mktemp -d /var/tmp/pqx-wan.XXXXXX) || exit 1
na=pqxw$$a nb=pqxw$$b
link_pid="" pids=""
cleanup() {
	for p in $pids $link_pid; do
		kill "$p" 2>/dev/null
	done
	ip netns del "$na" 2>/dev/null
	ip netns del "$nb" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cd "$dir" || exit 1
sshd_pid=""
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

# ---- the path ----
if ! ip netns add "$na" || ! ip netns add "$nb"; then
	echo "wan: skipped: can't make network namespaces"
	exit 0
fi
# shellcheck disable=SC2086 # the rate and queue, when set
"$LINK" "${na}0" "${nb}0" "$(awk -v r="$RTT" 'BEGIN { print r / 2 }')" ${MBIT:+$MBIT ${PQX_WAN_QUEUE_MS:-50}} \
	>link.out 2>&1 &
link_pid=$!
i=0
while ! grep -q ready link.out 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$link_pid" 2>/dev/null; then
		fail "tunlink did not start: $(cat link.out)"
	fi
	sleep 0.05
done
for side in "$na 10.77.0.1" "$nb 10.77.0.2"; do
	# shellcheck disable=SC2086 # the namespace and its address
	set -- $side
	{ ip link set "${1}0" netns "$1" && ip -n "$1" addr add "$2/24" dev "${1}0" &&
		ip -n "$1" link set "${1}0" mtu 1500 up && ip -n "$1" link set lo up; } ||
		fail "can't set up the path"
done
A="ip netns exec $na"
S="ip netns exec $nb"
echo "path: ${RTT} ms round trip${MBIT:+, $MBIT Mbit/s each way, a queue of ${PQX_WAN_QUEUE_MS:-50} ms} (bench/tunlink), limits: $(for k in core/rmem_max core/wmem_max ipv4/tcp_rmem ipv4/tcp_wmem; do
	printf '%s=%s ' "${k#*/}" "$($A cat /proc/sys/net/$k | tr '\t' ' ' | awk '{ print $NF }')"
done)"

# ---- data ----
head -c $((MIB * 1048576)) /dev/urandom >old || fail "no space for the data"
python3 - old new <<-'EOF' || fail "can't make the new version"
	import random, sys
	random.seed(20261127)
	d = bytearray(open(sys.argv[1], "rb").read())
	for _ in range(10):
	    o = random.randrange(len(d) - 65536)
	    d[o:o + 65536] = random.randbytes(65536)
	for _ in range(5):
	    o = random.randrange(len(d))
	    d[o:o] = random.randbytes(1000)
	open(sys.argv[2], "wb").write(d)
EOF
mkdir -p src cfg srvcfg
{ "$PQX" keygen -o s.key && "$PQX" keygen -o c.key; } 2>/dev/null || fail "pqx keygen"
echo "$("$PQX" keygen -y c.key) bench" >auth
SK=$("$PQX" keygen -y s.key)

# ---- the peers in the far namespace: pqx serve, sshd ----
[ -d /run/sshd ] || mkdir -m 0755 /run/sshd || fail "can't create /run/sshd"
{ ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f id_client; } ||
	fail "ssh-keygen"
cp id_client.pub authorized_keys
cat >sshd_config <<-EOF
	ListenAddress 10.77.0.2
	HostKey $dir/host_key
	PidFile $dir/sshd.pid
	AuthorizedKeysFile $dir/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	UseDNS no
	Compression no
	Ciphers aes256-gcm@openssh.com
	LogLevel ERROR
	SetEnv SHLVL=1
EOF
$S /usr/sbin/sshd -D -f "$dir/sshd_config" -p 2222 -E "$dir/sshd.log" &
pids="$pids $!"
RSH="ssh -p 2222 -F /dev/null -i $dir/id_client -o IdentitiesOnly=yes -o BatchMode=yes \
-o UserKnownHostsFile=$dir/known_hosts -o StrictHostKeyChecking=accept-new -o Compression=no \
-c aes256-gcm@openssh.com"
mkdir root
PQX_CONFIG_DIR=$dir/srvcfg $S "$PQX" serve -q --root root --identity s.key --authorized auth \
	--listen 10.77.0.2:7392 2>>serve.log &
spid=$!
pids="$pids $spid"
sleep 0.5
kill -0 "$spid" 2>/dev/null || fail "pqx serve did not start: $(cat serve.log)"

# timed CMD...: runs CMD in the near namespace; prints its seconds, or fails.
timed() {
	t0=$(now)
	$A "$@" >run.out 2>run.err || fail "$* failed: $(tail -n 2 run.err)"
	awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}
pqx_send() { timed env PQX_CONFIG_DIR="$dir/cfg" "$PQX" send -q -i c.key --server-key "$SK" "$@"; }
rsync_to() { timed rsync -a -e "$RSH" "$@"; }
# best NAME SECONDS: keeps the smallest per name.
best() {
	eval "cur=\${best_$1:-}"
	# shellcheck disable=SC2154 # cur is set by the eval
	if [ -z "$cur" ] || awk -v a="$2" -v b="$cur" 'BEGIN { exit !(a < b) }'; then
		eval "best_$1=$2"
	fi
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	# A first copy (a fresh index too).
	rm -rf root/* rdst srvcfg/index && mkdir rdst && cp old src/f && settle "$spid"
	best pqx_first "$(pqx_send src/f pqx://10.77.0.2:7392/)"
	best rsync_first "$(rsync_to src/f 10.77.0.2:"$dir"/rdst/)"
	$S socat -u TCP-LISTEN:5000,reuseaddr CREATE:"$dir/sdst" &
	sp=$!
	pids="$pids $sp"
	sleep 0.3
	best socat "$(timed socat -u FILE:old TCP:10.77.0.2:5000)"
	wait "$sp"
	{ cmp -s old root/f && cmp -s old rdst/f && cmp -s old sdst; } || fail "a first copy differs"
	# An update: pqx's receiver holds the old version, indexed.
	settle "$spid"
	cp new src/f
	best pqx_update "$(pqx_send --json src/f pqx://10.77.0.2:7392/)"
	pqx_wire=$(sed -n 's/.*"wire_bytes_out":\([0-9]*\).*"wire_bytes_in":\([0-9]*\).*/\1 \2/p' run.out |
		awk '{ print $1 + $2 }')
	cp new src/f
	best rsync_update "$(rsync_to --stats src/f 10.77.0.2:"$dir"/rdst/)"
	rsync_wire=$(sed -n 's/^Total bytes \(sent\|received\): \([0-9,]*\)$/\2/p' run.out | tr -d , |
		awk '{ s += $1 } END { print s }')
	{ cmp -s new root/f && cmp -s new rdst/f; } || fail "an update differs"
	r=$((r + 1))
done
# shellcheck disable=SC2154 # best_* are set by best
{
	echo "first copy of $MIB MiB: pqx send ${best_pqx_first} s, rsync -a over ssh ${best_rsync_first} s, socat (no fsync) ${best_socat} s"
	echo "update (ten 64 KiB overwrites, five 1000-byte insertions): pqx send ${best_pqx_update} s ($pqx_wire bytes on the wire), rsync -a over ssh ${best_rsync_update} s ($rsync_wire bytes, rsync's totals)"
}
if [ -n "$MBIT" ]; then
	kill "$link_pid" 2>/dev/null && wait "$link_pid" 2>/dev/null
	link_pid=""
	echo "the path's queue $(grep dropped link.out)"
fi
