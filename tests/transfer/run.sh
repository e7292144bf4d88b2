#!/bin/sh
# pqx transfer: pqx serve/send/get end to end on loopback: files, trees, pinning, restrictions, hostile peers, tampering, kills, full disk, many clients.
# Usage: tests/transfer/run.sh BUILD   (the build folder holding pqx and tests/transfer/*)
#
# Every check prints one line: "PASS transfer: WHAT", "FAIL transfer: WHAT
# (WHY)" or "SKIP transfer: WHAT (WHY)". Real `pqx serve` processes listen on
# 127.0.0.1 at random high ports; everything lives in one mktemp -d folder,
# and every process started here is killed at exit. Needs POSIX sh,
# coreutils (timeout, stat, realpath), find, sed, grep, cmp; strace (a check skips without it); mount (tmpfs)
# and mknod when root; mkfs.xfs, filefrag and a loop device (a check skips without them). Takes 30 to 45 seconds on two cores.
# shellcheck disable=SC2012 # ls lists our own plain names, for messages
set -u
BUILD=${1:-build}
for f in pqx tests/transfer/evil_sender tests/transfer/mitm tests/transfer/killat; do
	if [ ! -x "$BUILD/$f" ]; then
		echo "FAIL transfer: $BUILD/$f is not built (make BUILD=$BUILD tests)"
		exit 1
	fi
done
B=$(cd "$BUILD" && pwd)
PQX=$B/pqx
EVIL=$B/tests/transfer/evil_sender
MITM=$B/tests/transfer/mitm
KILLAT=$B/tests/transfer/killat
T=$(mktemp -d) || exit 2
pids=""
mounts=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	for m in $mounts; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 2
status=0
MiB=1048576

ok() { echo "PASS transfer: $1"; }
no() {
	echo "FAIL transfer: $1 ($2)"
	status=1
}
skip() { echo "SKIP transfer: $1 ($2)"; }
# check WHAT WHY: PASS when WHY is empty, else FAIL with it.
check() { if [ -z "$2" ]; then ok "$1"; else no "$1" "$2"; fi; }
# errline: the last stderr on one line, shortened.
errline() { tr '\n' ' ' <err | cut -c1-200; }
size() { if [ -e "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }
# rport: a random high port.
rport() { echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000)); }
# rnd N: a random number below N.
rnd() { echo $(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1)); }
rcpt() { "$PQX" keygen -y "$1"; }
# fp LOG: the server key fingerprint its last start logged.
fp() { sed -n 's/.*listening on .*, key \(SHA256:[^ ]*\).*/\1/p' "$1" | tail -n 1; }
# waitfor FILE PATTERN TENTHS: until FILE has a line matching PATTERN.
waitfor() {
	wf_i=0
	while [ "$wf_i" -lt "$3" ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		wf_i=$((wf_i + 1))
	done
	return 1
}
# count FILE PATTERN: lines of FILE matching PATTERN.
count() {
	ct_n=$(grep -c "$2" "$1" 2>/dev/null)
	echo "${ct_n:-0}"
}

# serve LOG PORT ROOT KEY AUTH [ARGS...]: starts pqx serve (PORT 0: a random
# free one) with its stderr appended to LOG; sets SPID and SPORT. It listens
# on 127.0.0.1, or on $SV_HOST where that is set ("": every address).
serve() {
	sv_log=$1 sv_port=$2 sv_root=$3 sv_key=$4 sv_auth=$5
	shift 5
	for sv_try in 1 2 3 4 5 6 7 8 9 10; do
		sv_p=$sv_port
		[ "$sv_p" = 0 ] && sv_p=$(rport)
		sv_n=$(count "$sv_log" 'listening on')
		"$PQX" serve --root "$sv_root" --identity "$sv_key" --authorized "$sv_auth" \
			--listen "${SV_HOST-127.0.0.1}:$sv_p" "$@" 2>>"$sv_log" &
		SPID=$!
		pids="$pids $SPID"
		sv_i=0
		while [ "$sv_i" -lt 100 ] && kill -0 "$SPID" 2>/dev/null; do
			if [ "$(count "$sv_log" 'listening on')" -gt "$sv_n" ]; then
				SPORT=$sv_p
				return 0
			fi
			sleep 0.05
			sv_i=$((sv_i + 1))
		done
		kill -9 "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		[ "$sv_port" = 0 ] || sleep 0.3
		: "$sv_try"
	done
	echo "FAIL transfer: can't start pqx serve: $(tail -n 2 "$sv_log" | tr '\n' ' ')"
	exit 1
}
# helper_ready OUT PID: waits for a helper's "ready" line; 1 if it failed.
helper_ready() {
	hr_i=0
	while [ "$hr_i" -lt 100 ]; do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.02
		hr_i=$((hr_i + 1))
	done
	return 1
}
# cl ARGS...: pqx with a 60 s limit; stdout to out, stderr to err; sets rc.
cl() {
	timeout 60 "$PQX" "$@" >out 2>err
	rc=$?
	return "$rc"
}
moved() { sed -n 's/.*"bytes_moved":\([0-9]*\).*/\1/p' out; }
# meta PATH: type, mode, size and mtime (to the nanosecond) of PATH.
meta() { stat -c '%F %a %s %y' "$1" 2>/dev/null || echo missing; }
# tree_list DIR: every entry below DIR but FIFOs and devices, with type,
# mode, mtime and link target, and the SHA-256 of every regular file.
tree_list() {
	(cd "$1" && find . ! -type p ! -type c ! -type b -printf '%p %y %m %T@ %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort)
}

# ---- keys and the main server ----
for k in s s2 c u sub so go evil e; do
	"$PQX" keygen -o "$k.key" 2>/dev/null || {
		echo "FAIL transfer: pqx keygen"
		exit 1
	}
done
SK=$(rcpt s.key)
{
	echo "$(rcpt c.key) client"
	echo "dir=sub $(rcpt sub.key) confined"
	echo "send-only $(rcpt so.key) uploader"
	echo "get-only $(rcpt go.key) downloader"
	echo "$(rcpt evil.key) hostile"
} >auth
export PQX_CONFIG_DIR="$T/config"
mkdir root
serve srv.log 0 root s.key auth
P=$SPORT SRVPID=$SPID
FP1=$(fp srv.log)
U=pqx://127.0.0.1:$P
C="-i c.key --server-key $SK"

# ---- 1. files and trees ----
mkdir src
: >src/f0
printf x >src/f1
head -c $MiB /dev/urandom >src/m1
head -c $((MiB + 1)) /dev/urandom >src/m1p
head -c 30000000 /dev/urandom >src/f30
chmod 600 src/f0
chmod 755 src/f1
chmod 640 src/m1
touch -d '2001-02-03 04:05:06.123456789' src/f0
touch -d '2019-12-31 23:59:59.000000001' src/m1p
# shellcheck disable=SC2086 # $C is options
cl send $C src/f0 src/f1 src/m1 src/m1p src/f30 "$U/single"
send_rc=$rc send_err=$(errline)
for f in f0 f1 m1 m1p f30; do
	case $f in
	f0) what="a 0-byte file" ;;
	f1) what="a 1-byte file" ;;
	m1) what="a 1 MiB file" ;;
	m1p) what="a 1 MiB + 1 byte file" ;;
	f30) what="a 30 MB file" ;;
	esac
	why=""
	if [ "$send_rc" -ne 0 ]; then
		why="send exited $send_rc: $send_err"
	elif ! cmp -s "src/$f" "root/single/$f"; then
		why="the server's copy differs"
	elif [ "$(meta "src/$f")" != "$(meta "root/single/$f")" ]; then
		why="server: $(meta "root/single/$f"), source: $(meta "src/$f")"
	else
		# shellcheck disable=SC2086
		cl get $C "$U/single/$f" -o got
		if [ "$rc" -ne 0 ]; then
			why="get exited $rc: $(errline)"
		elif ! cmp -s "src/$f" "got/$f"; then
			why="the fetched copy differs"
		elif [ "$(meta "src/$f")" != "$(meta "got/$f")" ]; then
			why="fetched: $(meta "got/$f"), source: $(meta "src/$f")"
		fi
	fi
	check "send and get of $what (content, mode, mtime)" "$why"
done

# SQLite is loaded only by the chunk index: a receiver that can't load it
# warns and goes on without one (a library of that name without SQLite,
# which says when it is loaded).
mkdir fakelib
printf '#include <unistd.h>\n__attribute__((constructor)) static void f(void) { (void)!write(2, "fake sqlite loaded\\n", 19); }\n' >fakelib/empty.c
why=""
if ! ${CC:-cc} -shared -fPIC -o fakelib/libsqlite3.so.0 fakelib/empty.c 2>err; then
	skip "a receiver that can't load SQLite" "no C compiler: $(errline)"
else
	# shellcheck disable=SC2086
	LD_LIBRARY_PATH=$T/fakelib cl get $C "$U/single/m1" -o nosql
	if [ "$rc" -ne 0 ]; then
		why="get exited $rc: $(errline)"
	elif ! cmp -s src/m1 nosql/m1; then
		why="the fetched copy differs"
	elif ! grep -q "fake sqlite loaded" err; then
		why="the library was not loaded: $(errline)"
	elif ! grep -q "can't load SQLite (libsqlite3.so.0 has no sqlite3_.*); going on without the chunk index" err; then
		why="no warning: $(errline)"
	fi
	check "a receiver that can't load SQLite warns and goes on without its chunk index" "$why"
	# The sender never loads it.
	# shellcheck disable=SC2086
	LD_LIBRARY_PATH=$T/fakelib cl send $C src/f1 "$U/nosql"
	if [ "$rc" -ne 0 ] || ! cmp -s src/f1 root/nosql/f1; then
		why="send exited $rc: $(errline)"
	elif grep -q "fake sqlite loaded" err; then
		why="it loaded libsqlite3"
	fi
	check "a sender never loads SQLite" "$why"
fi

# A tiny file sent alone goes with its entry (eager); sent again it is
# skipped, and the receiver drops what came: its copy is not rewritten.
# Both ways: pqx send to the server, pqx get from it.
printf 'eager\n' >src/tiny
# skipped_again COPY: after src/tiny went again into COPY (inode ino before):
# why it is not skipped with its contents crossed and COPY as it was.
skipped_again() {
	if [ "$rc" -ne 0 ]; then
		echo "exited $rc: $(errline)"
	elif ! grep -q '"files":1,"dirs":0,"links":0,"skipped":1,' out; then
		echo "not skipped: $(cat out)"
	elif grep -q '"bytes_data":0,' out; then
		echo "its contents did not go with its entry: $(cat out)"
	elif [ "$(stat -c %i "$1" 2>&1)" != "$ino" ] || ! cmp -s src/tiny "$1"; then
		echo "$1 was rewritten or differs"
	fi
}
# shellcheck disable=SC2086
cl send --json $C src/tiny "$U/eager"
ino=$(stat -c %i root/eager/tiny 2>&1)
# shellcheck disable=SC2086
cl send --json $C src/tiny "$U/eager"
why=$(skipped_again root/eager/tiny)
# shellcheck disable=SC2086
cl get --json $C "$U/eager/tiny" -o eagerget && ino=$(stat -c %i eagerget/tiny 2>&1) &&
	cl get --json $C "$U/eager/tiny" -o eagerget
[ -n "$why" ] || why=$(skipped_again eagerget/tiny)
check "a tiny file's contents go with its entry; sent or fetched again, it is skipped and not rewritten" "$why"
# Compressed (--compress 3), what the receiver drops still goes through the
# session's zstd stream: the next file, compressed after it, must decode.
seq 1 400 >src/tiny2
seq 1 20000 >src/after
# shellcheck disable=SC2086
cl send $C src/tiny2 "$U/eagerz" && cl send --json --compress 3 $C src/tiny2 src/after "$U/eagerz"
why=""
if [ "$rc" -ne 0 ]; then
	why="send exited $rc: $(errline)"
elif ! grep -q '"files":2,"dirs":0,"links":0,"skipped":1,' out || grep -q '"bytes_data":0,' out; then
	why="not one skipped after its contents went: $(cat out)"
elif ! cmp -s src/after root/eagerz/after || ! cmp -s src/tiny2 root/eagerz/tiny2; then
	why="the files differ"
fi
check "compressed contents dropped with a skipped tiny file keep the zstd stream in step" "$why"

# A tree: nested directories, links inside it, modes and times, a FIFO and a device.
mkdir -p tree/a/b/c tree/empty tree/x
echo top >tree/top
echo one >tree/a/f1
printf '#!/bin/sh\necho two\n' >tree/a/b/f2
head -c 2500000 /dev/urandom >tree/a/b/c/f3
ln -s b/f2 tree/a/lnk
ln -s ../top tree/a/up
ln -s c tree/a/b/dirlink
ln -s no-such-file tree/x/dangling
chmod 755 tree/a/b/f2
chmod 600 tree/a/b/c/f3
chmod 640 tree/top
chmod 750 tree/a
chmod 700 tree/a/b/c
chmod 1777 tree/x
mkfifo tree/fifo
have_dev=0
mknod tree/dev c 1 3 2>/dev/null && have_dev=1
i=0
find tree -depth >entries
while read -r e; do
	touch -h -d "@$((1500000000 + i * 86400)).$((100000000 + i * 1234567))" "$e"
	i=$((i + 1))
done <entries
# shellcheck disable=SC2086
cl send $C tree "$U/trees"
why=""
if [ "$rc" -ne 0 ]; then
	why="send exited $rc: $(errline)"
elif [ "$(tree_list tree)" != "$(tree_list root/trees/tree)" ]; then
	tree_list tree >tl1
	tree_list root/trees/tree >tl2
	why="the server's tree differs: $(diff tl1 tl2 | head -n 5 | tr '\n' ' ')"
fi
check "send of a tree: nested dirs, links kept as links, modes and mtimes" "$why"

why=""
if [ -e root/trees/tree/fifo ] || [ -L root/trees/tree/fifo ] || [ -e root/trees/tree/dev ]; then
	why="a FIFO or device was created on the server"
elif ! grep -q 'fifo.*skipped' err; then
	why="no warning about the FIFO: $(errline)"
elif [ "$have_dev" = 1 ] && ! grep -q 'dev.*skipped' err; then
	why="no warning about the device: $(errline)"
fi
check "send of a tree skips a FIFO$([ "$have_dev" = 1 ] && echo ' and a device') with a warning" "$why"
[ "$have_dev" = 1 ] || skip "a device file in the source" "mknod is not permitted here"
# Two paths of one name in a send (a/same, b/same) would land on one path:
# refused, as cp does, before anything crosses.
mkdir -p twice/a twice/b
head -c 300000 /dev/urandom >twice/a/same
head -c 200000 /dev/urandom >twice/b/same
# shellcheck disable=SC2086
cl send $C twice/a/same twice/b/same "$U/twice"
why=""
if [ "$rc" -eq 0 ]; then
	why="send exited 0"
elif ! grep -q "same: two of the paths to send have this name" err; then
	why="no clear error: $(errline)"
elif [ -n "$(ls -A root/twice 2>/dev/null)" ]; then
	why="the server holds: $(ls -A root/twice | tr '\n' ' ')"
fi
check "two paths of one name in a send: refused, nothing lands" "$why"
# A tree holding a name pqx gives a file while it lands (.b.pqx-part beside
# b, as a pqx target interrupted once leaves): skipped with a warning, and b
# lands as it is.
mkdir -p resv
head -c 300000 /dev/urandom >resv/.b.pqx-part
head -c 200000 /dev/urandom >resv/b
# shellcheck disable=SC2086
cl send $C resv "$U/"
why=""
if [ "$rc" -ne 0 ]; then
	why="send exited $rc: $(errline)"
elif ! cmp -s resv/b root/resv/b; then
	why="b on the server is not b"
elif [ -e root/resv/.b.pqx-part ]; then
	why=".b.pqx-part was sent"
elif ! grep -q "resv/.b.pqx-part: skipped: pqx keeps this name" err; then
	why="no warning: $(errline)"
fi
check "a file named as pqx names a file while it lands is skipped with a warning; the rest lands" "$why"
# A FIFO in the server's tree is skipped by the server (and logged).
mkfifo root/trees/tree/a/fifo2
touch -h -r tree/a root/trees/tree/a # as it was
# shellcheck disable=SC2086
cl get $C "$U/trees/tree" -o gtree
why=""
if [ "$rc" -ne 0 ]; then
	why="get exited $rc: $(errline)"
elif [ "$(tree_list tree)" != "$(tree_list gtree/tree)" ]; then
	why="the fetched tree differs"
elif ! diff -r --no-dereference -x fifo -x fifo2 -x dev tree gtree/tree >/dev/null 2>&1; then
	why="diff -r finds differences"
elif [ -e gtree/tree/a/fifo2 ] || [ -L gtree/tree/a/fifo2 ]; then
	why="the server's FIFO was created by the client"
elif ! grep -q 'fifo2: skipped' srv.log; then
	why="the server did not log skipping its FIFO"
fi
check "get of a tree: nested dirs, links kept as links, modes and mtimes; a FIFO on the server skipped" "$why"
# Both trailing-slash spellings name the same tree.
# shellcheck disable=SC2086
cl send $C tree/ "$U/slash"
why=""
if [ "$rc" -ne 0 ]; then
	why="send exited $rc: $(errline)"
elif [ "$(tree_list tree)" != "$(tree_list root/slash/tree 2>/dev/null)" ]; then
	why="root/slash/tree is not the tree: $(ls -A root/slash 2>&1 | tr '\n' ' ') $(errline)"
fi
check "send of DIR/ (a trailing slash) sends the tree" "$why"
# A send whose last entry the server can't create must not report success.
mkdir -p tail/zz && touch -d @1600000000 tail/zz tail
mkdir -p root/tails/tail && : >root/tails/tail/zz
why=""
for i in 1 2 3 4 5; do
	# shellcheck disable=SC2086
	cl send $C tail "$U/tails"
	[ "$rc" -eq 0 ] && why="try $i exited 0 though the server logged: $(grep 'tails' srv.log | tail -n 1 | cut -c 22-160)"
done
check "send fails when the server refuses the last entry (a directory it can't create)" "$why"

# Socket buffers: one that is set no longer grows with the connection, and
# is capped at [rw]mem_max (208 KiB on a stock kernel): a buffer below what
# Linux would grow it to (tcp_[rw]mem's maximum) caps a long path's rate.
if command -v strace >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	timeout 60 strace -f -qq -e trace=setsockopt -o strace.txt "$PQX" send -q $C src/f1 "$U/sockbuf" >out 2>err
	rc=$?
	why=""
	if [ "$rc" -ne 0 ]; then
		why="send under strace exited $rc: $(errline)"
	elif ! grep -q 'TCP_NODELAY' strace.txt; then
		why="strace saw no setsockopt: $(head -c 200 strace.txt)"
	fi
	for b in SND:w RCV:r; do
		cap=$(cat "/proc/sys/net/core/${b#*:}mem_max")
		grow=$(awk '{ print $NF }' "/proc/sys/net/ipv4/tcp_${b#*:}mem")
		set=$(sed -n "s/.*SO_${b%:*}BUF, \[\([0-9]*\)\].*/\1/p" strace.txt | head -n 1)
		# The kernel doubles what is asked, up to twice the cap.
		if [ -n "$set" ] && [ $((2 * (set < cap ? set : cap))) -le "$grow" ]; then
			why="$why SO_${b%:*}BUF set to $set (cap $cap), below the $grow it would grow to;"
		fi
	done
	check "socket buffers are never fixed below what Linux would grow them to" "$why"
else
	skip "socket buffers are never fixed below what Linux would grow them to" "no strace"
fi

# With no address, pqx serve listens on every address, IPv6 and IPv4, as sshd
# does, and logs an IPv4 client by its IPv4 address.
SV_HOST=""
serve dual.log 0 root s.key auth
unset SV_HOST
why=""
# shellcheck disable=SC2086 # $C is options
cl send $C src/f1 "pqx://127.0.0.1:$SPORT/dual4" || why="over IPv4: exit $rc: $(errline)"
if ! waitfor dual.log 'dual4' 30; then
	why="$why the server logged no session: $(tail -n 1 dual.log)"
elif ! grep -q '^[^ ]* pqx serve: 127\.0\.0\.1 .*dual4' dual.log; then
	why="$why the log: $(grep dual4 dual.log | cut -c 22-120)"
fi
if grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	# shellcheck disable=SC2086
	cl send $C src/f1 "pqx://[::1]:$SPORT/dual6" || why="$why over IPv6: exit $rc: $(errline)"
	[ -f root/dual6/f1 ] || why="$why nothing arrived over IPv6"
	check "pqx serve with no address listens on IPv6 and IPv4" "$why"
else
	check "pqx serve with no address listens on IPv4 (no IPv6 loopback here)" "$why"
fi
kill "$SPID"
wait "$SPID" 2>/dev/null

# ---- 2. authentication and pinning ----
mkdir -p udest
cl send -i u.key --server-key "$SK" src/f1 "$U/unauth"
why=""
if [ "$rc" -ne 1 ]; then
	why="exit $rc"
elif ! grep -q 'does not authorize' err; then
	why="no 'does not authorize' error: $(errline)"
elif [ -e root/unauth ]; then
	why="root/unauth was created"
fi
check "an unauthorized client is refused (send)" "$why"
cl get -i u.key --server-key "$SK" "$U/single/f1" -o udest
why=""
if [ "$rc" -ne 1 ]; then
	why="exit $rc"
elif ! grep -q 'does not authorize' err; then
	why="no 'does not authorize' error: $(errline)"
elif [ -n "$(ls -A udest)" ]; then
	why="udest holds $(ls -A udest | tr '\n' ' ')"
fi
check "an unauthorized client is refused (get)" "$why"
if ! grep -q 'refused: not authorized' srv.log; then
	no "the server logs the unauthorized client" "no 'refused: not authorized' in its log"
else
	ok "the server logs the unauthorized client"
fi
# Each line's recipient is compared with the client's as text: one with a
# character changed (its checksum fails), in capitals (recipients are lower
# case) or none at all lets no one in. A connection logs only lines with no
# recipient; a server that starts logs every line it would ignore.
cp auth auth.orig
UR=$(rcpt u.key)
case $UR in *q) UBAD=${UR%?}p ;; *) UBAD=${UR%?}q ;; esac
{
	echo "$UBAD one character changed"
	echo "$(echo "$UR" | tr a-z A-Z) in capitals"
	echo "send-only age1pq1 cut short"
	echo "send-only"
} >>auth
nl=$(wc -l <auth.orig)
cl send -i u.key --server-key "$SK" src/f1 "$U/unauth"
why=""
[ "$rc" -eq 1 ] && [ ! -e root/unauth ] || why="exit $rc, root/unauth: $(ls root/unauth 2>&1)"
grep -q "line $((nl + 4)): not a post-quantum recipient" srv.log || why="$why; line $((nl + 4)) not logged"
serve srv2.log 0 root s.key auth
kill "$SPID"
wait "$SPID" 2>/dev/null
for l in 1 2 3 4; do
	grep -q "line $((nl + l)): not a post-quantum recipient" srv2.log ||
		why="$why; line $((nl + l)) not logged at start"
done
cp auth.orig auth
check "authorized: a key with a character changed, in capitals or cut short lets no one in; bad lines are logged at start" "$why"

# Trust on first use, then the same port with another key.
serve tofu.log 0 root s.key auth
TP=$SPORT TPID=$SPID
mkdir -p tofu
cl get -i c.key --accept-new "pqx://127.0.0.1:$TP/single/f1" -o tofu
why=""
if [ "$rc" -ne 0 ]; then
	why="exit $rc: $(errline)"
elif ! grep -q "^127.0.0.1:$TP age1pq1" config/known_servers 2>/dev/null; then
	why="known_servers has no line for 127.0.0.1:$TP"
elif ! cmp -s src/f1 tofu/f1; then
	why="the file differs"
fi
check "--accept-new trusts a new server and records it in known_servers" "$why"
rm -f tofu/f1
cl get -i c.key "pqx://127.0.0.1:$TP/single/f1" -o tofu
check "a server in known_servers is accepted without flags" \
	"$([ "$rc" -eq 0 ] && cmp -s src/f1 tofu/f1 || echo "exit $rc: $(errline)")"
rm -f tofu/f1
kill -9 "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null
serve tofu.log "$TP" root s2.key auth
TPID=$SPID
FP2=$(fp tofu.log)
for how in "" "--accept-new"; do
	# shellcheck disable=SC2086
	cl get -i c.key $how "pqx://127.0.0.1:$TP/single/f1" -o tofu
	why=""
	if [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -q 'HAS CHANGED' err; then
		why="no loud warning: $(errline)"
	elif ! grep -qF "$FP1" err || ! grep -qF "$FP2" err; then
		why="the error does not name both $FP1 and $FP2: $(errline)"
	elif [ -n "$(ls -A tofu)" ]; then
		why="tofu/ holds $(ls -A tofu | tr '\n' ' ')"
	fi
	check "a changed server key is refused loudly${how:+ (even with $how)}" "$why"
done
kill -9 "$TPID" 2>/dev/null
wait "$TPID" 2>/dev/null
# A wrong pinned key: refused before any file data moves.
n0=$(count srv.log '"wrongkey"')
cl send -i c.key --server-key "$(rcpt s2.key)" src/f30 "$U/wrongkey"
sleep 0.2
why=""
if [ "$rc" -ne 1 ]; then
	why="exit $rc"
elif ! grep -qF "$FP1" err || ! grep -qF "$FP2" err; then
	why="the error does not name both fingerprints: $(errline)"
elif [ "$(count srv.log '"wrongkey"')" -ne "$n0" ] || [ -e root/wrongkey ]; then
	why="the server logged or created a transfer"
fi
check "a wrong --server-key is refused before any data moves, naming both fingerprints" "$why"

# ---- 3. restricted identities ----
mkdir -p root/sub
echo secret >root/secret
echo inside >root/sub/inside
mkdir -p rdest
cl send -i sub.key --server-key "$SK" src/f1 "$U/"
cl send -i sub.key --server-key "$SK" src/m1 "$U/inner"
why=""
if [ "$rc" -ne 0 ]; then
	why="exit $rc: $(errline)"
elif ! cmp -s src/f1 root/sub/f1 || ! cmp -s src/m1 root/sub/inner/m1; then
	why="the files are not in root/sub"
elif [ -e root/f1 ] || [ -e root/inner ]; then
	why="a file landed outside root/sub"
fi
check "dir=sub: send lands inside sub" "$why"
cl get -i sub.key --server-key "$SK" "$U/inside" -o rdest
check "dir=sub: get reads inside sub" "$([ "$rc" -eq 0 ] && cmp -s root/sub/inside rdest/inside || echo "exit $rc: $(errline)")"
why=""
for path in secret ../secret sub/inside; do
	rm -rf rdest && mkdir rdest
	cl get -i sub.key --server-key "$SK" "$U/$path" -o rdest
	if [ "$rc" -eq 0 ] || [ -n "$(ls -A rdest)" ]; then
		why="$why get $path: exit $rc, rdest: $(ls -A rdest | tr '\n' ' ');"
	fi
done
out=$(timeout 30 "$EVIL" client "$P" sub.key req-get-dotdot "$T/canary" 2>&1)
case $out in
refused:*) ;;
*) why="$why a hand-made get of ../secret: $out" ;;
esac
check "dir=sub: get of a path outside sub fails" "$why"
n0=$(count srv.log 'not allowed')
rm -rf rdest && mkdir rdest
cl get -i so.key --server-key "$SK" "$U/single/f1" -o rdest
why=""
if [ "$rc" -ne 1 ] || [ -n "$(ls -A rdest)" ]; then
	why="exit $rc, rdest: $(ls -A rdest | tr '\n' ' ')"
elif ! grep -q 'may not get' err; then
	why="unclear error: $(errline)"
fi
cl send -i so.key --server-key "$SK" src/f1 "$U/uploads"
[ "$rc" -eq 0 ] && cmp -s src/f1 root/uploads/f1 || why="$why; its send failed: $(errline)"
check "send-only: get is refused, send works" "$why"
cl send -i go.key --server-key "$SK" src/f1 "$U/downloads"
why=""
if [ "$rc" -ne 1 ] || [ -e root/downloads ]; then
	why="exit $rc, root/downloads: $(ls -A root/downloads 2>&1 | tr '\n' ' ')"
elif ! grep -q 'may not send' err; then
	why="unclear error: $(errline)"
fi
cl get -i go.key --server-key "$SK" "$U/single/f1" -o rdest
[ "$rc" -eq 0 ] && cmp -s src/f1 rdest/f1 || why="$why; its get failed: $(errline)"
check "get-only: send is refused, get works" "$why"
check "the server logs refused operations" \
	"$([ "$(count srv.log 'not allowed')" -ge $((n0 + 2)) ] || echo "no 'not allowed' lines")"

# ---- 8a. a server with --max-connections 4 and 8 idle connections ----
serve lim.log 0 root s.key auth --max-connections 4
LP=$SPORT
"$EVIL" idle "$LP" 8 14 >idle.out 2>&1 &
IDLE=$!
pids="$pids $IDLE"
idle_t0=$(date +%s)
waitfor idle.out connected 50
# shellcheck disable=SC2086
cl get $C "pqx://127.0.0.1:$LP/single/f1" -o lim0
lim_rc0=$rc

# ---- 4. hostile senders: path traversal ----
EV=$T/ev
mkdir -p "$EV/canary"
# ev_reset: empties the root and the destination and puts back the links an
# administrator or user left there, pointing outside.
ev_reset() {
	for d in "$EV/root" "$EV/dest"; do
		mkdir -p "$d"
		find "$d" -mindepth 1 -delete # not the folder itself: the server holds it open
		ln -s "$EV/canary" "$d/esc"
		ln -s "$EV/canary/f" "$d/escf"
		ln -s "$EV/canary/p" "$d/.p.pqx-part"
		{ head -c 8192 /dev/zero | tr '\0' a && head -c 50 /dev/zero | tr '\0' x; } >"$d/blk"
	done
}
# the old and the honest new version of blk (the blocks-* cases)
{ head -c 8192 /dev/zero | tr '\0' a && head -c 50 /dev/zero | tr '\0' x; } >blk.old
{ head -c 8192 /dev/zero | tr '\0' a && printf 'tail\n'; } >blk.new
{ head -c 8192 /dev/zero | tr '\0' b && printf 'tail\n'; } >blk.lie
ev_reset
serve ev.log 0 "$EV/root" s.key auth
EP=$SPORT
# escapes: what reached outside the root or the destination.
escapes() {
	[ -z "$(ls -A "$EV/canary")" ] || echo "the canary holds: $(ls -A "$EV/canary" | tr '\n' ' ')"
	[ "$(ls -A "$EV" | tr '\n' ' ')" = "canary dest root " ] || echo "new entries beside the root: $(ls -A "$EV" | tr '\n' ' ')"
	find "$EV/root" "$EV/dest" -type l | while read -r l; do
		case $l in "$EV/root/esc" | "$EV/root/escf" | "$EV/root/.p.pqx-part" | "$EV/dest/esc" | "$EV/dest/escf" | "$EV/dest/.p.pqx-part") continue ;; esac
		r=$(realpath -m "$l")
		case $r in
		"$EV/root" | "$EV/root/"* | "$EV/dest" | "$EV/dest/"*) ;;
		*) echo "link ${l#"$EV"/} resolves to $r outside" ;;
		esac
	done
}
# extra CASE DIR: what else must hold for a case after it ran into DIR.
extra() {
	case $1 in
	setuid) [ "$(stat -c %a "$2/suid" 2>&1)" = 755 ] || echo "suid has mode $(stat -c %a "$2/suid" 2>&1)" ;;
	existing-link-file) [ -f "$2/escf" ] && [ ! -L "$2/escf" ] || echo "escf is not a regular file" ;;
	bad-hash | bad-block | bad-zstd) [ ! -e "$2/badhash" ] && [ ! -e "$2/badblock" ] && [ ! -e "$2/badzstd" ] || echo "the file was placed" ;;
	reserved) [ ! -e "$2/.x.pqx-part" ] || echo ".x.pqx-part was placed" ;;
	again-unasked) [ ! -e "$2/again" ] || echo "the file was placed" ;;
	eager-ok) [ "$(cat "$2/eager" 2>&1)" = "contents that did not wait for the answer" ] || echo "eager was not placed as sent" ;;
	eager-big) [ ! -e "$2/eagerbig" ] || echo "the file was placed" ;;
	eager-behind) [ ! -e "$2/first" ] && [ ! -e "$2/second" ] || echo "a file was placed" ;;
	blocks-ok) cmp -s "$2/blk" blk.new || echo "blk is not the new version" ;;
	blocks-lie) cmp -s "$2/blk" blk.lie || echo "blk is not what the sender sent whole" ;;
	blocks-*) cmp -s "$2/blk" blk.old || echo "the old blk was not left as it was" ;;
	link-*) [ ! -L "$2/l" ] || [ "$(realpath -m "$2/l")" != "$EV/canary" ] || echo "l points at the canary" ;;
	esac
}
# outcome CASE: what the check expects, in words; refusal CASE OUT: a wrong reason.
outcome() {
	case $1 in
	blocks-ok) echo "completed from the old version's blocks" ;;
	blocks-lie) echo "its hash found wrong, the file received again whole" ;;
	link-* | existing-link-file | setuid) echo "links refused or kept inside" ;;
	eager-ok) echo "its contents taken before its answer" ;;
	*) echo refused ;;
	esac
}
refusal() {
	case $1 in
	blocks-ok) case $2 in "matching blocks completed"*) ;; *) echo " not matched in blocks: $2" ;; esac ;;
	blocks-lie) case $2 in "matching blocks asked again, whole completed"*) ;; *) echo " not asked again: $2" ;; esac ;;
	blocks-bad-run) case $2 in "matching blocks "*"invalid block list"*) ;; *) echo " not refused for its block list: $2" ;; esac ;;
	blocks-lie-gone) case $2 in *"a file the receiver asked for did not come"*) ;; *) echo " not refused for the file that did not come again: $2" ;; esac ;;
	bad-zstd) case $2 in *"invalid compressed data"*) ;; *) echo " not refused for its compressed data: $2" ;; esac ;;
	eager-big | eager-behind) case $2 in *"invalid file entry"*) ;; *) echo " not refused for its entry: $2" ;; esac ;;
	esac
}
REFUSED="dotdot abs inner-dotdot dotdot-dir double-slash empty dot nul long-component long-path existing-link-dir existing-link-parent existing-link-part link-then-dir bad-hash bad-block bad-zstd blocks-bad-run blocks-lie-gone reserved again-unasked eager-big eager-behind"
SAFE="link-abs link-up link-canary link-chain existing-link-file setuid blocks-ok blocks-lie eager-ok"
for c in $REFUSED $SAFE req-get-dotdot req-get-abs req-send-dotdot; do
	ev_reset
	nw=$(count ev.log 'symbolic link refused')
	all=$(timeout 30 "$EVIL" client "$EP" evil.key "$c" "$EV/canary" 2>&1 | tr '\n' ' ')
	out=${all% }
	out=${out##*"matching blocks "} # before the outcome: block mode and the receiver's retry
	out=${out##*"asked again, whole "}
	why=$(escapes | tr '\n' ' ')$(extra "$c" "$EV/root")
	case $c in
	link-abs | link-up | link-canary | link-chain)
		[ "$(count ev.log 'symbolic link refused')" -gt "$nw" ] || why="$why no 'symbolic link refused' in the server's log" ;;
	esac
	case " $SAFE " in
	*" $c "*) [ "$out" = completed ] || why="$why not completed: $out" ;;
	*) case $out in refused:*) ;; *) why="$why not refused: $out" ;; esac ;;
	esac
	why="$why$(refusal "$c" "$all")"
	check "hostile sender (client) $c: $(outcome "$c"), nothing outside the root" "$why"
done
# The same entries from a hostile server to pqx get.
ERCPT=$(rcpt e.key)
for c in $REFUSED $SAFE; do
	ev_reset
	for try in 1 2 3; do
		ep=$(rport)
		rm -f evs.out
		"$EVIL" server "$ep" e.key "$c" "$EV/canary" >evs.out 2>&1 &
		evpid=$!
		pids="$pids $evpid"
		helper_ready evs.out "$evpid" && break
		wait "$evpid" 2>/dev/null
		: "$try"
	done
	cl get -i c.key --server-key "$ERCPT" "pqx://127.0.0.1:$ep/x" -o "$EV/dest"
	wait "$evpid" 2>/dev/null
	all=$(grep -v '^ready' evs.out | tr '\n' ' ')
	evs=$(grep -v -e '^ready' -e '^asked again' -e '^matching blocks' evs.out | head -n 1)
	why=$(escapes | tr '\n' ' ')$(extra "$c" "$EV/dest")
	case $c in
	link-abs | link-up | link-canary | link-chain)
		grep -q 'symbolic link refused' err || why="$why no 'symbolic link refused' warning: $(errline)" ;;
	esac
	case " $SAFE " in
	*" $c "*) [ "$rc" -eq 0 ] && [ "$evs" = completed ] || why="$why pqx get exited $rc ($(errline)), the server: $evs" ;;
	*) [ "$rc" -eq 1 ] && case $evs in refused:*) true ;; *) false ;; esac ||
		why="$why pqx get exited $rc ($(errline)), the server: $evs" ;;
	esac
	why="$why$(refusal "$c" "$all")"
	check "hostile server to pqx get $c: $(outcome "$c"), nothing outside -o DEST" "$why"
done
rm -rf "$EV"

# ---- 5. a man in the middle ----
head -c 4000000 /dev/urandom >root/single/f4
# through ACTION DIR OFFSET [LEN]: a tampering proxy (tests/transfer/mitm.c) in
# front of the main server, one connection; sets MU, its pqx:// address.
through() {
	for th_try in 1 2 3; do
		th_mp=$(rport)
		rm -f mitm.out
		"$MITM" "$th_mp" "$P" "$2" "$1" "$3" "${4:-100}" >mitm.out 2>mitm.err &
		th_pid=$!
		pids="$pids $th_pid"
		helper_ready mitm.out "$th_pid" && break
		wait "$th_pid" 2>/dev/null
		: "$th_try"
	done
	MU=pqx://127.0.0.1:$th_mp
}
mitm_end() {
	kill "$th_pid" 2>/dev/null
	wait "$th_pid" 2>/dev/null
}
rm -rf mdest
through none s2c 0
cl get -i c.key --server-key "$SK" "$MU/single/f4" -o mdest
mitm_end
check "through the proxy untouched, a get succeeds (control)" \
	"$([ "$rc" -eq 0 ] && cmp -s root/single/f4 mdest/f4 || echo "exit $rc: $(errline)")"
# Flights (the proxy counts each turn of the stream, and holds the server's
# bytes until the client has sent some): with the server's key pinned, the
# client speaks first (message 1 before message 0 came), and a send of a new
# 1 KiB file takes 6 flights, 3 round trips (the request with the first
# entries, END before the last FILE_OK; 11 flights before those); a get 8.
head -c 1024 /dev/urandom >small1k
rm -rf root/flights fdest
export MITM_HOLD_MS=500
for op in send get; do
	through none c2s 0
	if [ "$op" = send ]; then
		cl send $C small1k "$MU/flights"
		want=6 got=root/flights/small1k
	else
		cl get $C "$MU/flights/small1k" -o fdest
		want=8 got=fdest/small1k
	fi
	mitm_end
	fl=$(grep -c '^turn' mitm.err)
	check "a $op of a 1 KiB file crosses in at most $want flights, the client's first" \
		"$([ "$rc" -eq 0 ] && [ "$fl" -le "$want" ] && [ "$(grep -m1 '^turn' mitm.err)" = "turn c2s" ] &&
			cmp -s small1k "$got" ||
			echo "exit $rc, $fl flights: $(grep '^turn' mitm.err | tr '\n' ' ')")"
done
unset MITM_HOLD_MS
rm -rf mdest
# tampered WHAT ACTION OFFSET [LEN]: a get whose server-to-client bytes are changed.
tampered_get() {
	rm -rf mdest
	through "$2" s2c "$3" "${4:-100}"
	cl get -i c.key --server-key "$SK" "$MU/single/f4" -o mdest
	mitm_end
	why=""
	if [ "$rc" -eq 124 ]; then
		why="the client hung"
	elif [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -qi 'authentication failed\|tamper' err; then
		why="no authentication error: $(errline)"
	elif [ -e mdest/f4 ]; then
		why="mdest/f4 exists"
	elif ! grep -q tampered mitm.err; then
		why="the proxy never tampered"
	fi
	check "get, $1: fails with an authentication error, nothing under the final name" "$why"
}
tampered_get "one bit flipped in the handshake (message 2)" flip 1400
tampered_get "one bit flipped in the data" flip 2000000
tampered_get "100 bytes dropped from the data" drop 2000000 100
tampered_get "300 bytes of data replayed" dup 2000000 300
tampered_get "two 200-byte spans of data swapped" swap 2000000 200
# tampered_send WHAT ACTION OFFSET [LEN]: a send whose client-to-server bytes
# are changed; the server reports the authentication failure.
tampered_send() {
	rm -rf root/msend
	n0=$(count srv.log 'authentication failed')
	through "$2" c2s "$3" "${4:-100}"
	cl send -i c.key --server-key "$SK" root/single/f4 "$MU/msend"
	mitm_end
	sleep 0.1
	why=""
	if [ "$rc" -eq 124 ]; then
		why="the client hung"
	elif [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif [ "$(count srv.log 'authentication failed')" -le "$n0" ]; then
		why="the server logged no authentication failure; client: $(errline)"
	elif [ -e root/msend/f4 ]; then
		why="root/msend/f4 exists"
	elif ! grep -q tampered mitm.err; then
		why="the proxy never tampered"
	fi
	check "send, $1: fails, the server reports an authentication failure, nothing under the final name" "$why"
}
tampered_send "one bit flipped in the handshake (message 1)" flip 300
tampered_send "one bit flipped in the data" flip 2000000
tampered_send "100 bytes dropped from the data" drop 2000000 100
tampered_send "300 bytes of data replayed" dup 2000000 300
tampered_send "two 200-byte spans of data swapped" swap 2000000 200
rm -rf root/msend mdest

# ---- 6. kill -9 at random points of a 200 MB transfer, then resume ----
BIG=200000000
head -c $BIG /dev/urandom >big
# restart_main: the main server again, same port and key, after a kill.
restart_main() {
	wait "$SRVPID" 2>/dev/null
	serve srv.log "$P" root s.key auth
	SRVPID=$SPID
}
mkdir -p root/kbig
ln big root/kbig/big 2>/dev/null || cp big root/kbig/big
# killrun send|get client|server PERCENT: kills the victim once the receiver's
# partial file holds PERCENT of the file, then runs the same command again.
killrun() {
	kr_mode=$1 kr_victim=$2 kr_pct=$3
	rm -rf root/k kd
	if [ "$kr_mode" = send ]; then
		kr_final=root/k/big kr_part=root/k/.big.pqx-part
		# shellcheck disable=SC2086
		set -- send $C --json big "$U/k"
	else
		kr_final=kd/big kr_part=kd/.big.pqx-part
		# shellcheck disable=SC2086
		set -- get $C --json "$U/kbig/big" -o kd
	fi
	kr_n0=$(count srv.log 'failed')
	"$PQX" "$@" >kout 2>kerr &
	kr_cpid=$!
	pids="$pids $kr_cpid"
	if [ "$kr_victim" = client ]; then kr_vpid=$kr_cpid; else kr_vpid=$SRVPID; fi
	kr_at=$("$KILLAT" "$kr_part" $((BIG * kr_pct / 100)) "$kr_vpid" "$kr_final")
	wait "$kr_cpid" 2>/dev/null
	kr_crc=$?
	if [ "$kr_victim" = server ]; then
		restart_main
	else
		# the server has noticed and written what it had
		kr_i=0
		while [ "$kr_i" -lt 50 ] && [ "$(count srv.log 'failed')" -le "$kr_n0" ]; do
			sleep 0.1
			kr_i=$((kr_i + 1))
		done
	fi
	kr_arrived=$(size "$kr_part")
	kr_final_before=$([ -e "$kr_final" ] && echo yes)
	cl "$@"
	kr_moved=$(moved)
	kr_missing=$((BIG - kr_arrived))
	kr_allowed=$((kr_missing + MiB + kr_arrived / 50))
	why=""
	case $kr_at in
	"killed at"*) ;;
	*) why="the kill did not happen: $kr_at" ;;
	esac
	if [ -n "$why" ]; then
		:
	elif [ "$kr_crc" -eq 0 ]; then
		why="the killed run exited 0"
	elif [ -n "$kr_final_before" ]; then
		why="$kr_final existed before the rerun"
	elif [ "$rc" -ne 0 ]; then
		why="the rerun exited $rc: $(errline)"
	elif ! cmp -s big "$kr_final"; then
		why="the resumed file differs"
	elif [ -e "$kr_part" ]; then
		why="the partial file is still there"
	elif [ -z "$kr_moved" ] || [ "$kr_moved" -gt "$kr_allowed" ]; then
		why="rerun moved ${kr_moved:-?} bytes; $kr_arrived had arrived, $kr_missing missing"
	fi
	check "kill -9 of the $kr_victim ($([ "$kr_mode" = send ] && echo send || echo get), $([ "$kr_mode$kr_victim" = sendclient ] || [ "$kr_mode$kr_victim" = getserver ] && echo sender || echo receiver)) at ${kr_pct}%, rerun: complete, moved $kr_moved of $kr_missing missing (${kr_arrived} had arrived)" "$why"
	rm -rf root/k kd
}
for mode in send get; do
	for victim in client server; do
		killrun "$mode" "$victim" $((10 + $(rnd 20)))
		killrun "$mode" "$victim" $((40 + $(rnd 20)))
		killrun "$mode" "$victim" $((65 + $(rnd 16)))
	done
done
rm -f big root/kbig/big

# ---- 7. a full disk on the receiver ----
mkdir -p root/full fulldest f16src root/big16
head -c 1000000 /dev/urandom >keep
head -c 16000000 /dev/urandom >f16src/f16
cp f16src/f16 root/big16/f16
if mount -t tmpfs -o size=8m tmpfs root/full 2>/dev/null; then
	mounts="$T/root/full $mounts"
	cp keep root/full/f16
	# shellcheck disable=SC2086
	cl send $C f16src/f16 "$U/full"
	why=""
	if [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -qi 'no space' err; then
		why="no 'no space' error: $(errline)"
	elif ! cmp -s keep root/full/f16; then
		why="the existing file changed"
	fi
	check "send to a full disk: a clear 'no space' error, the existing file intact" "$why"
else
	skip "send to a full disk" "can't mount a tmpfs here"
fi
if mount -t tmpfs -o size=8m tmpfs fulldest 2>/dev/null; then
	mounts="$T/fulldest $mounts"
	cp keep fulldest/f16
	# shellcheck disable=SC2086
	cl get $C "$U/big16/f16" -o fulldest
	why=""
	if [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -qi 'no space' err; then
		why="no 'no space' error: $(errline)"
	elif ! cmp -s keep fulldest/f16; then
		why="the existing file changed"
	fi
	check "get to a full disk: a clear 'no space' error, the existing file intact" "$why"
else
	skip "get to a full disk" "can't mount a tmpfs here"
fi

# Cloning: where the file system shares blocks between files (XFS here, on
# a loop device), a file of 64 MiB or more changed in place gets the blocks
# it keeps cloned from its old version (when that is not in the page cache)
# instead of written: most of the new file lies on the old one's disk blocks
# (filefrag). The library's own case (test_dedup, "clone") runs on the same
# file system: it also checks that cloned bytes are verified.
mkdir -p root/xfs csrc
# uncache FILE: FILE out of the page cache (pqx clones only an old version that is not cached).
uncache() { sync "$1" && dd if="$1" iflag=nocache count=0 2>/dev/null; }
# blockmap FILE: "logical physical length" (in blocks) of each of its extents.
blockmap() { filefrag -v "$1" | awk '/^ *[0-9]+:/ { print $2 + 0, $4 + 0, $6 + 0 }'; }
if [ "$(id -u)" -eq 0 ] && command -v mkfs.xfs >/dev/null 2>&1 && command -v filefrag >/dev/null 2>&1 &&
	truncate -s 600M xfs.img && mkfs.xfs -q -m reflink=1 xfs.img >/dev/null 2>&1 &&
	mount -o loop xfs.img root/xfs 2>/dev/null; then
	mounts="$T/root/xfs $mounts"
fi
if grep -q " $T/root/xfs " /proc/mounts && printf x >root/xfs/probe &&
	cp --reflink=always root/xfs/probe root/xfs/probe2 2>/dev/null; then
	rm -f root/xfs/probe root/xfs/probe2
	head -c 80000000 /dev/urandom >csrc/c80
	# shellcheck disable=SC2086
	cl send $C csrc/c80 "$U/xfs"
	first_rc=$rc
	uncache root/xfs/c80
	blockmap root/xfs/c80 >old.map
	for i in 3 300 600 900 1200; do
		head -c 65536 /dev/urandom | dd of=csrc/c80 bs=65536 seek="$i" count=1 conv=notrunc 2>/dev/null
	done
	# shellcheck disable=SC2086
	cl send $C csrc/c80 "$U/xfs"
	blockmap root/xfs/c80 >new.map
	# Blocks of the new file at the same place on the disk as the old one's.
	same=$(awk 'NR == FNR { l[NR] = $1; p[NR] = $2; n[NR] = $3; k = NR; next }
		{ for (i = 1; i <= k; i++) if ($2 - $1 == p[i] - l[i]) {
			lo = $1 > l[i] ? $1 : l[i]; hi = $1 + $3 < l[i] + n[i] ? $1 + $3 : l[i] + n[i]
			if (lo < hi) s += hi - lo } }
		END { print s + 0 }' old.map new.map)
	blocks=$(awk '{ s += $3 } END { print s + 0 }' new.map)
	why=""
	if [ "$first_rc" -ne 0 ] || [ "$rc" -ne 0 ]; then
		why="send exited $first_rc, then $rc: $(errline)"
	elif ! cmp -s csrc/c80 root/xfs/c80; then
		why="the files differ"
	elif [ "$same" -lt $((blocks * 3 / 4)) ]; then
		why="$same of $blocks blocks on the old version's"
	elif ! grep -q 'send to "xfs": 1 file(s), 80000000 bytes, [0-9]* moved, [0-9]* cloned' srv.log; then
		why="the server's log does not say what it cloned"
	fi
	check "update in place on XFS: the blocks kept are cloned, not written" "$why"
	# The other way: pqx get into a folder on XFS clones from the client's old copy.
	mkdir root/xfs/got
	# shellcheck disable=SC2086
	cl get $C "$U/xfs/c80" -o root/xfs/got
	first_rc=$rc
	uncache root/xfs/got/c80
	head -c 65536 /dev/urandom | dd of=root/xfs/c80 bs=65536 seek=700 count=1 conv=notrunc 2>/dev/null
	# shellcheck disable=SC2086
	cl get --json $C "$U/xfs/c80" -o root/xfs/got
	cloned=$(sed -n 's/.*"bytes_cloned":\([0-9]*\).*/\1/p' out)
	why=""
	if [ "$first_rc" -ne 0 ] || [ "$rc" -ne 0 ]; then
		why="get exited $first_rc, then $rc: $(errline)"
	elif ! cmp -s root/xfs/c80 root/xfs/got/c80; then
		why="the files differ"
	elif [ "${cloned:-0}" -lt 60000000 ]; then
		why="${cloned:-no} bytes cloned (--json)"
	fi
	check "get of a file changed in place, into XFS: cloned from the old copy (--json bytes_cloned)" "$why"
	mkdir root/xfs/unit
	# The plain build, and the sanitized ones where they are built.
	for v in "" asan tsan; do
		tb=$B${v:+/$v}/tests/test_dedup
		[ -n "$v" ] && [ ! -x "$tb" ] && continue
		PQX_TEST_CLONE_DIR=$T/root/xfs/unit PQX_TEST_ONLY=clone TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
			timeout 300 "$tb" >unit.out 2>&1
		urc=$?
		if [ "$urc" -eq 0 ] && grep -q '^PASS dedup: clone' unit.out; then
			ok "the library's clone case on XFS (test_dedup${v:+, $v})"
		else
			no "the library's clone case on XFS (test_dedup${v:+, $v})" "exit $urc: $(grep -v '^#' unit.out | tr '\n' ' ' | cut -c1-300)"
		fi
	done
	rm -rf root/xfs/c80 root/xfs/unit root/xfs/got
else
	skip "update in place on XFS" "needs root, mkfs.xfs (xfsprogs) with reflink, filefrag and a loop device"
fi
umount root/xfs 2>/dev/null # (the exit trap tries again)

# Ten small files, then one too big: the receiver refuses the big one when
# it reads its entry, while answers to the entries sent ahead are still on
# their way; the sender must read past them to its error record.
mkdir -p root/full2 ahead
for i in 0 1 2 3 4 5 6 7 8 9; do head -c 2000000 /dev/urandom >ahead/a$i; done
head -c 16000000 /dev/urandom >ahead/zbig
if mount -t tmpfs -o size=8m tmpfs root/full2 2>/dev/null; then
	mounts="$T/root/full2 $mounts"
	# shellcheck disable=SC2086
	cl send $C ahead/a0 ahead/a1 ahead/a2 ahead/a3 ahead/a4 ahead/a5 ahead/a6 ahead/a7 ahead/a8 ahead/a9 ahead/zbig "$U/full2"
	why=""
	if [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -qi 'the peer says: no space' err; then
		why="no 'no space' error from the receiver: $(errline)"
	elif [ -e root/full2/zbig ]; then
		why="zbig landed"
	fi
	check "send of files, then one too big for the disk: the receiver's 'no space' reaches the sender" "$why"
else
	skip "send of files, then one too big for the disk" "can't mount a tmpfs here"
fi

# Two sends that each fit, but not together: one fails while its blocks
# flow, and its client must still say why (the receiver's error record).
mkdir -p root/mid msrc
head -c 30000000 /dev/urandom >msrc/m1
head -c 30000000 /dev/urandom >msrc/m2
if mount -t tmpfs -o size=40m tmpfs root/mid 2>/dev/null; then
	mounts="$T/root/mid $mounts"
	# shellcheck disable=SC2086
	timeout 60 "$PQX" send $C msrc/m1 "$U/mid" >/dev/null 2>err.m1 &
	p1=$!
	# shellcheck disable=SC2086
	timeout 60 "$PQX" send $C msrc/m2 "$U/mid" >/dev/null 2>err.m2
	r2=$?
	wait "$p1"
	r1=$?
	why=""
	if [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]; then
		why="both sends succeeded on a 40 MB disk"
	else
		for i in 1 2; do
			eval "ri=\$r$i"
			if [ "$ri" -ne 0 ] && ! grep -qi 'no space' "err.m$i"; then
				why="send $i failed without naming the full disk: $(grep 'error' "err.m$i" | head -1)"
			fi
		done
	fi
	check "a disk that fills during the transfer: the sender names the full disk" "$why"
else
	skip "a disk that fills during the transfer" "can't mount a tmpfs here"
fi

# ---- 8. many clients ----
head -c 10000 /dev/urandom >root/single/small
mkdir -p many
cpids=""
i=1
while [ "$i" -le 64 ]; do
	# shellcheck disable=SC2086
	"$PQX" get $C -q "$U/single/small" -o "many/d$i" >/dev/null 2>"many/e$i" &
	cpids="$cpids $!"
	i=$((i + 1))
done
pids="$pids $cpids"
nfail=0
for p in $cpids; do
	wait "$p" || nfail=$((nfail + 1))
done
i=1 nbad=0
while [ "$i" -le 64 ]; do
	cmp -s root/single/small "many/d$i/small" || nbad=$((nbad + 1))
	i=$((i + 1))
done
check "64 concurrent gets all succeed" \
	"$([ "$nfail" -eq 0 ] && [ "$nbad" -eq 0 ] || echo "$nfail failed, $nbad wrong: $(cat many/e* | sort | uniq -c | head -n 3 | tr '\n' ' ')")"
check "with --max-connections 4 and 8 idle connections, a client is turned away" \
	"$([ "$lim_rc0" -ne 0 ] || echo "it got through")"
now=$(date +%s)
[ $((now - idle_t0)) -lt 12 ] && sleep $((12 - (now - idle_t0)))
rm -rf lim1
# shellcheck disable=SC2086
cl get $C "pqx://127.0.0.1:$LP/single/f1" -o lim1
check "once the idle connections time out (10 s), a client gets through" \
	"$([ "$rc" -eq 0 ] && cmp -s src/f1 lim1/f1 || echo "exit $rc: $(errline)")"
wait "$IDLE" 2>/dev/null
why=""
if [ "$(count lim.log 'refused: 4 connections already')" -lt 5 ]; then
	why="$(count lim.log 'refused: 4 connections already') refusals logged, want 5"
elif ! grep -q 'closed 8 of 8' idle.out; then
	why="the server did not drop every idle connection: $(tr '\n' ' ' <idle.out)"
fi
check "the server logs the refusals and drops idle connections" "$why"

# ---- 9. only what is missing crosses ----
# edit IN OUT: IN with three 4 KiB overwrites and a 1000-byte insertion.
edit() {
	ed_n=$(size "$1")
	{
		head -c $((ed_n / 2)) "$1"
		head -c 1000 /dev/urandom
		tail -c +$((ed_n / 2 + 1)) "$1"
	} >"$2.tmp"
	for ed_at in $((ed_n / 4)) $((ed_n * 3 / 4)) $((ed_n / 8)); do
		head -c 4096 /dev/urandom | dd of="$2.tmp" bs=1 seek="$ed_at" conv=notrunc 2>/dev/null
	done
	mv "$2.tmp" "$2"
}
mkdir -p dd1 root/dd
head -c 8000000 /dev/urandom >dd1/v
# shellcheck disable=SC2086
cl send $C --json dd1/v "$U/dd"
m1=$(moved)
edit dd1/v dd1/v2 && mv dd1/v2 dd1/v
# shellcheck disable=SC2086
cl send $C --json --stats dd1/v "$U/dd"
m2=$(moved)
why=""
if [ "$rc" -ne 0 ]; then
	why="exit $rc: $(errline)"
elif ! cmp -s dd1/v root/dd/v; then
	why="the new version differs"
elif [ "${m1:-0}" -ne 8000000 ] || [ -z "$m2" ] || [ "$m2" -gt 400000 ]; then
	why="moved ${m1:-?} then ${m2:-?} bytes (want 8000000, then under 400000)"
elif ! grep -q "already there" err || ! grep -q "on the wire" err; then
	why="no --stats lines: $(errline)"
fi
check "send a new version: only the changed chunks cross (moved ${m2:-?} of 8001000 bytes), --stats says so" "$why"

# A file the receiver holds under another name is a source too (the index).
cp dd1/v dd1/copy
# shellcheck disable=SC2086
cl send $C --json dd1/copy "$U/dd"
m4=$(moved)
check "a file the receiver already holds under another name does not cross again (moved ${m4:-?} bytes)" \
	"$([ "$rc" -eq 0 ] && cmp -s dd1/copy root/dd/copy && [ -n "$m4" ] && [ "$m4" -lt 100000 ] || echo "exit $rc, moved ${m4:-?}: $(errline)")"

# The same for get: the client's own index.
mkdir -p gdd
# shellcheck disable=SC2086
cl get $C -q "$U/dd/v" -o gdd
edit root/dd/v root/dd/v.new && mv root/dd/v.new root/dd/v
# shellcheck disable=SC2086
cl get $C --json "$U/dd/v" -o gdd
m3=$(moved)
check "get a new version: only the changed chunks cross (moved ${m3:-?} bytes)" \
	"$([ "$rc" -eq 0 ] && cmp -s root/dd/v gdd/v && [ -n "$m3" ] && [ "$m3" -lt 400000 ] || echo "exit $rc, moved ${m3:-?}: $(errline)")"

# A shared base: both sides hold the old version in their --dict.
mkdir -p dS dC dn root/dx
head -c 6000000 /dev/zero | tr '\0' 'a' >dn/tmp.txt
i=0
while [ "$i" -lt 2000 ]; do
	echo "line $i $(od -An -N8 -tx8 /dev/urandom)"
	i=$((i + 1))
done >dS/base.txt
cat dS/base.txt dn/tmp.txt >dS/m && rm dn/tmp.txt dS/base.txt
cp dS/m dC/m
sed 's/line 1\([0-9]\)/LINE 1\1/' dS/m >dn/m
serve dict.log 0 root s.key auth --dict dS
DPORT=$SPORT
pids="$pids $SPID"
# shellcheck disable=SC2086
cl send $C --json --dict dC --compress 3 dn/m "pqx://127.0.0.1:$DPORT/dx"
dd_data=$(sed -n 's/.*"bytes_data":\([0-9]*\).*/\1/p' out)
check "--dict on both sides: a zstd delta against the shared base (${dd_data:-?} bytes of data for $(size dn/m))" \
	"$([ "$rc" -eq 0 ] && cmp -s dn/m root/dx/m && [ -n "$dd_data" ] && [ "$dd_data" -lt 200000 ] || echo "exit $rc, data ${dd_data:-?}: $(errline)")"
# A base that differs on the receiver is refused as a base, and the file still arrives.
printf 'x' >>dC/m
rm -f root/dx/m
# shellcheck disable=SC2086
cl send $C --json --dict dC --compress 3 dn/m "pqx://127.0.0.1:$DPORT/dx"
check "a base that differs between the sides is not used, the file still arrives" \
	"$([ "$rc" -eq 0 ] && cmp -s dn/m root/dx/m || echo "exit $rc: $(errline)")"
for bad in "--compress 20" "--compress fast" "--bwlimit 0" "--bwlimit 5X"; do
	# shellcheck disable=SC2086
	cl send $C $bad dn/m "$U/dx"
	check "pqx send $bad: refused with a clear error" \
		"$([ "$rc" -eq 1 ] && grep -q '^pqx: error: --' err || echo "exit $rc: $(errline)")"
done
# shellcheck disable=SC2086
cl get $C --compress 3 "$U/dd/v" -o gdd
check "pqx get --compress: refused (the sending side compresses)" \
	"$([ "$rc" -eq 1 ] && grep -q 'sending side' err || echo "exit $rc: $(errline)")"
# shellcheck disable=SC2086
cl send $C --json --bwlimit 2M dd1/v "$U/bw"
bw_s=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' out)
check "--bwlimit 2M: 8 MB take at least 3 seconds (took ${bw_s:-?} s)" \
	"$([ "$rc" -eq 0 ] && awk -v s="${bw_s:-0}" 'BEGIN { exit !(s >= 3) }' || echo "exit $rc: $(errline)")"

# A file that grows while it is sent is refused, and nothing lands.
head -c 60000000 /dev/urandom >dd1/grow
# shellcheck disable=SC2086
timeout 60 "$PQX" send $C --bwlimit 30M dd1/grow "$U/gr" >out 2>err &
gpid=$!
sleep 1
printf 'more' >>dd1/grow
wait "$gpid"
rc=$?
check "a file that changes while it is sent is refused; nothing under its name" \
	"$([ "$rc" -eq 1 ] && grep -q 'changed while' err && [ ! -e root/gr/grow ] || echo "exit $rc: $(errline)")"

exit "$status"
