#!/bin/sh
# pqx cli: script tests of the pqx command (keygen, encrypt, decrypt, errors); prints PASS/FAIL/SKIP lines.
# Usage: tests/cli/run.sh BUILD   (the build folder holding pqx; default build)
#
# Every check prints one line: "PASS cli: WHAT", "FAIL cli: WHAT (WHY)" or
# "SKIP cli: WHAT (WHY)". Needs only POSIX sh, coreutils, sed, awk, find and
# diffutils' cmp; uses util-linux script and setsid, and mount and mknod when
# root, where present. Takes a few seconds.
set -u
BUILD=${1:-build}
if [ ! -x "$BUILD/pqx" ]; then
	echo "FAIL cli: $BUILD/pqx is not built (make BUILD=$BUILD all)"
	exit 1
fi
PQX=$(cd "$BUILD" && pwd)/pqx
T=$(mktemp -d) || exit 2
mounts=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	for m in $mounts; do
		umount "$T/$m" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# All names below are relative to $T, so argument strings never hold spaces.
cd "$T" || exit 2
: >allerr
status=0
CHUNK=65536
SEALED=65552 # a full chunk on disk: 64 KiB and its 16-byte tag
PASS_A="correct horse 7f3a battery"
PASS_B="Tr0ub4dor&3 wrong one"

ok() { echo "PASS cli: $1"; }
no() {
	echo "FAIL cli: $1 ($2)"
	status=1
}
skip() { echo "SKIP cli: $1 ($2)"; }
# check WHAT WHY: PASS when WHY is empty, else FAIL with it.
check() { if [ -z "$2" ]; then ok "$1"; else no "$1" "$2"; fi; }
# errline: the first two lines of the last stderr, on one line.
errline() { head -n 2 err | tr '\n' ' ' | cut -c1-240; }
# size FILE: its size in bytes.
size() { wc -c <"$1" | tr -d ' '; }
# kind PATH: what PATH is now.
kind() {
	if [ -c "$1" ]; then echo "a device"
	elif [ -p "$1" ]; then echo "a FIFO"
	elif [ -f "$1" ]; then echo "a regular file"
	else echo "missing"
	fi
}
# leftovers DIR: the temporary files pqx left in DIR, if any.
leftovers() {
	for lf in "$1"/.*.pqx-*; do
		[ -e "$lf" ] && echo "${lf##*/}"
	done
}
# pq ARGS...: runs pqx, its stdout to the caller's, its stderr to err (and allerr).
pq() {
	"$PQX" "$@" 2>err
	pq_rc=$?
	cat err >>allerr
	return "$pq_rc"
}
# flip FILE OFFSET: flips the lowest bit of the byte at OFFSET, in place.
flip() {
	fb=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n')
	# shellcheck disable=SC2059
	printf "\\$(printf %03o $((fb ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# xfail WHAT OUT PATTERN ARGS...: "pqx ARGS" must exit 1 with a "pqx: error:"
# line, PATTERN (extended regexp, any case; "" for any) in its stderr, no
# file OUT ("" for none) and no temporary file in . or beside OUT. The
# command is prefixed with $XF_WRAP (normally empty).
XF_WRAP=""
xfail() {
	xf_what=$1 xf_out=$2 xf_pat=$3
	shift 3
	# Each check starts clean, so that one failure does not cascade.
	if [ -n "$xf_out" ]; then rm -f "$xf_out"; fi
	# shellcheck disable=SC2086
	$XF_WRAP "$PQX" "$@" >out 2>err
	xf_rc=$?
	cat err >>allerr
	xf_why=""
	if [ "$xf_rc" -ne 1 ]; then
		xf_why="exit status $xf_rc, want 1: $(errline)"
	elif ! grep -q '^pqx: error: ' err; then
		xf_why="no \"pqx: error:\" line: $(errline)"
	elif [ -n "$xf_pat" ] && ! grep -qiE -e "$xf_pat" err; then
		xf_why="message lacks /$xf_pat/: $(errline)"
	elif [ -n "$xf_out" ] && [ -e "$xf_out" ]; then
		xf_why="left $xf_out behind"
	elif [ -n "$(leftovers .)" ]; then
		xf_why="left a temporary file: $(leftovers . | head -n 1)"
	elif [ -n "$xf_out" ] && [ -n "$(leftovers "$(dirname "$xf_out")")" ]; then
		xf_why="left a temporary file beside $xf_out"
	fi
	check "$xf_what" "$xf_why"
}

# rt WHAT IN ENCARGS DECARGS: encrypts IN to rt.age and decrypts it to
# rt.out (both through -o), and compares. Each command gets file $RT_FD3
# opened on descriptor 3 (for --passphrase-fd 3).
RT_FD3=/dev/null
rt() {
	rm -f rt.age rt.out
	# shellcheck disable=SC2086
	if ! pq encrypt $3 -o rt.age "$2" 3<"$RT_FD3"; then
		no "$1" "encrypt: exit $pq_rc: $(errline)"
	elif ! pq decrypt $4 -o rt.out rt.age 3<"$RT_FD3"; then
		no "$1" "decrypt: exit $pq_rc: $(errline)"
	elif ! cmp -s "$2" rt.out; then
		no "$1" "decrypted data differs from the input"
	else
		ok "$1"
	fi
}

# ---------------------------------------------------------------- keygen

why=""
if ! pq keygen -o k.txt >out; then
	why="exit $pq_rc: $(errline)"
elif [ -s out ]; then
	why="wrote to standard output with -o"
elif ! grep -q '^AGE-SECRET-KEY-PQ-1[0-9A-Z]*$' k.txt; then
	why="no AGE-SECRET-KEY-PQ-1 line in the file"
elif ! grep -q '^# public key: age1pq1' k.txt; then
	why="no \"# public key: age1pq1\" comment in the file"
elif ! grep -q '^Public key: age1pq1[0-9a-z]*$' err; then
	why="no \"Public key: age1pq1...\" on stderr: $(errline)"
fi
check "keygen: default identity is post-quantum (age1pq1 / AGE-SECRET-KEY-PQ-1, Public key on stderr)" "$why"
R=$(sed -n 's/^Public key: //p' err)
check "keygen: -o file has mode 0600" "$([ -n "$(find k.txt -perm 600)" ] || echo "mode is not 0600")"
rm -f k0.txt
(umask 000 && "$PQX" keygen -o k0.txt 2>/dev/null)
check "keygen: -o file has mode 0600 even under umask 000" \
	"$([ -n "$(find k0.txt -perm 600 2>/dev/null)" ] || echo "mode is not 0600")"

why=""
if ! pq keygen --classic -o kc.txt; then
	why="exit $pq_rc: $(errline)"
elif ! grep -q '^AGE-SECRET-KEY-1[0-9A-Z]*$' kc.txt; then
	why="no AGE-SECRET-KEY-1 line"
elif ! grep -q '^Public key: age1[02-9ac-hj-np-z]*$' err || grep -q 'age1pq1' err; then
	why="no classic \"Public key: age1...\": $(errline)"
fi
check "keygen: --classic gives an X25519 identity (age1...)" "$why"
RC=$(sed -n 's/^Public key: //p' err)

why=""
if ! pq keygen >k2.txt; then
	why="exit $pq_rc: $(errline)"
elif ! grep -q '^AGE-SECRET-KEY-PQ-1' k2.txt; then
	why="no identity on standard output"
elif ! grep -q '^Public key: age1pq1' err; then
	why="no Public key on stderr: $(errline)"
fi
check "keygen: without -o the identity goes to standard output" "$why"
R2=$(sed -n 's/^Public key: //p' err)

cp k.txt k.copy
xfail "keygen: refuses to overwrite an existing -o file" "" "exist" keygen -o k.txt
check "keygen: the existing -o file is unchanged" "$(cmp -s k.txt k.copy || echo "k.txt changed")"
rm -f k.copy

why=""
if ! pq keygen -y k.txt >out; then
	why="exit $pq_rc: $(errline)"
elif [ "$(cat out)" != "$R" ]; then
	why="printed \"$(head -c 60 out)...\", want the key's recipient"
fi
check "keygen: -y FILE prints the recipient" "$why"
why=""
if ! pq keygen -y <kc.txt >out; then
	why="exit $pq_rc: $(errline)"
elif [ "$(cat out)" != "$RC" ]; then
	why="printed \"$(cat out)\", want $RC"
fi
check "keygen: -y reads standard input" "$why"
cat k.txt kc.txt >both.txt
why=""
if ! pq keygen -y both.txt >out; then
	why="exit $pq_rc: $(errline)"
elif [ "$(sed -n 1p out)" != "$R" ] || [ "$(sed -n 2p out)" != "$RC" ]; then
	why="wrong recipients"
fi
check "keygen: -y lists every identity of a file" "$why"

# On a fresh account: send's hint names the default identity, and keygen -o
# at that path makes its folders (0700), as ssh-keygen makes ~/.ssh.
mkdir fresh
HOME=$PWD/fresh PQX_CONFIG_DIR="" XDG_CONFIG_HOME="" "$PQX" send x pqx://127.0.0.1:1/ 2>err
why=""
grep -q "hint: create one with: pqx keygen -o $PWD/fresh/.config/pqx/identity" err ||
	why="hint: $(errline)"
if ! HOME=$PWD/fresh PQX_CONFIG_DIR="" XDG_CONFIG_HOME="" "$PQX" keygen -o "$PWD/fresh/.config/pqx/identity" 2>err; then
	why="$why keygen failed: $(errline)"
else
	modes=$(stat -c %a fresh/.config fresh/.config/pqx fresh/.config/pqx/identity | tr '\n' ' ')
	[ "$modes" = "700 700 600 " ] || why="$why modes $modes, want 700 700 600"
fi
check "keygen: -o the default identity makes its folders (0700); send's hint names it" "$why"
xfail "keygen: -o elsewhere makes no folder" "" "No such file" keygen -o nodir/k.txt

printf 'this is not a key\n' >bad.txt
xfail "keygen: -y on a bad file is an error" "" "line 1" keygen -y bad.txt
# An identity with one character changed: invalid, and never echoed back.
sed 's/^\(AGE-SECRET-KEY-PQ-1.*\)....$/\1QQQQ/' k.txt >typo.txt
xfail "keygen: -y on a mistyped secret key is an error" "" "line 3" keygen -y typo.txt
printf '# only a comment\n\n' >empty-ids.txt
xfail "keygen: -y on a file without identities is an error" "" "no identities" keygen -y empty-ids.txt
xfail "keygen: -y on a missing file is an error" "" "no such file" keygen -y nonexistent.txt
xfail "keygen: unexpected argument is an error" "" "unexpected argument" keygen extra

# Second and third identities for multi-recipient and passphrase tests.
"$PQX" keygen -o k3.txt 2>err
R3=$(sed -n 's/^Public key: //p' err)
"$PQX" keygen -o kp.txt 2>err
RP=$(sed -n 's/^Public key: //p' err)

# ---------------------------------------------------------------- round trips

for n in 0 1 65535 65536 65537 131072 3145735; do
	head -c "$n" /dev/urandom >"p$n"
done
printf 'hello, pqx\n' >small

rt "round trip: post-quantum recipient" p65537 "-r $R" "-i k.txt"
rt "round trip: X25519 recipient" p65537 "-r $RC" "-i kc.txt"
rt "round trip: empty file" p0 "-r $R" "-i k.txt"

# The ciphertext is header + 16-byte nonce + each chunk + a 16-byte tag per
# chunk (at least one chunk), as the age STREAM spec lays it out.
for n in 0 1 65535 65536 65537 131072 3145735; do
	why=""
	rm -f s.age s.out
	if ! pq encrypt -r "$R" -o s.age "p$n"; then
		why="encrypt: exit $pq_rc: $(errline)"
	elif ! pq decrypt -i k.txt -o s.out s.age; then
		why="decrypt: exit $pq_rc: $(errline)"
	elif ! cmp -s "p$n" s.out; then
		why="decrypted data differs"
	else
		chunks=$(((n + CHUNK - 1) / CHUNK))
		[ "$chunks" -eq 0 ] && chunks=1
		want=$(($(head -n 4 s.age | wc -c) + 16 + n + 16 * chunks))
		[ "$(size s.age)" -eq "$want" ] || why="ciphertext is $(size s.age) bytes, want $want"
	fi
	check "round trip: $n bytes (size on disk matches the STREAM layout)" "$why"
done

rt "round trip: two -r recipients, the first identity" p65537 "-r $R -r $R3" "-i k.txt"
rt "round trip: two -r recipients, the second identity" p65537 "-r $R -r $R3" "-i k3.txt"
rt "round trip: two -i identities, the second matching" small "-r $R3" "-i kc.txt -i k.txt -i k3.txt"
{
	echo "# team recipients, written by hand"
	echo ""
	echo "$R"
	echo ""
	echo "# and a second one"
	echo "$R3"
} >recips.txt
rt "round trip: -R recipients file with comments and blank lines" p1 "-R recips.txt" "-i k3.txt"
rt "round trip: -R together with -r" small "-R recips.txt -r $R2" "-i k2.txt"
printf '%s\nnot-a-recipient\n' "$R" >badrecips.txt
xfail "encrypt: -R with a bad line names the line" out.age "line 2" encrypt -R badrecips.txt -o out.age small
xfail "encrypt: -R with only comments is an error" out.age "no recipients" encrypt -R empty-ids.txt -o out.age small
xfail "encrypt: post-quantum and X25519 recipients are not mixed" out.age "mixed" \
	encrypt -r "$R" -r "$RC" -o out.age small

# Armor, both ways (needs src/age/armor.c).
why=""
rm -f a.age a.out
if ! pq encrypt -a -r "$R" -o a.age p65537; then
	why="encrypt: exit $pq_rc: $(errline)"
elif [ "$(head -n 1 a.age)" != "-----BEGIN AGE ENCRYPTED FILE-----" ]; then
	why="first line is \"$(head -n 1 a.age | cut -c1-40)\""
elif [ "$(tail -n 1 a.age)" != "-----END AGE ENCRYPTED FILE-----" ]; then
	why="last line is \"$(tail -n 1 a.age | cut -c1-40)\""
elif sed '1d;$d' a.age | LC_ALL=C grep -q '[^A-Za-z0-9+/=]'; then
	why="non-base64 characters in the body"
elif [ "$(sed '1d;$d' a.age | awk 'length($0) > 64' | wc -l)" -ne 0 ]; then
	why="body lines longer than 64 columns"
elif ! pq decrypt -i k.txt -o a.out a.age; then
	why="decrypt: exit $pq_rc: $(errline)"
elif ! cmp -s p65537 a.out; then
	why="decrypted data differs"
fi
check "armor: -a writes PEM armor that decrypts" "$why"
# Sizes 0..3 give every base64 padding of the last armor line (0, 1, 2 "=").
for n in 0 1 2 3; do
	head -c "$n" /dev/urandom >"a$n"
	rt "armor: $n-byte file (each padding of the last base64 line)" "a$n" "-a -r $R" "-i k.txt"
done
rt "armor: X25519, 3 MB" p3145735 "-a -r $RC" "-i kc.txt"
why=""
"$PQX" encrypt -a -r "$R" <p131072 2>err1 | "$PQX" decrypt -i k.txt 2>err2 >pipe.out
cat err1 err2 >>allerr
cmp -s p131072 pipe.out || why="differs: $(head -n 1 err1) $(head -n 1 err2)"
check "armor: encrypt -a | decrypt through pipes" "$why"
if [ -f a.age ]; then
	# Lines that end in CRLF are accepted (age armor rule).
	sed 's/$/\r/' a.age >crlf.age
	rm -f crlf.out
	why=""
	if ! pq decrypt -i k.txt -o crlf.out crlf.age; then
		why="exit $pq_rc: $(errline)"
	elif ! cmp -s p65537 crlf.out; then
		why="decrypted data differs"
	fi
	check "armor: CRLF line endings decrypt" "$why"
	# A changed body character: the file must not decrypt.
	cp a.age ta.age
	flip ta.age 200
	cmp -s a.age ta.age && no "armor: a changed armored byte is an error" "the helper did not change the file"
	xfail "armor: a changed armored byte is an error" dec.out "" decrypt -i k.txt -o dec.out ta.age
	sed '$d' a.age >ta.age
	xfail "armor: a missing END line is an error" dec.out "" decrypt -i k.txt -o dec.out ta.age
	{ cat a.age; echo "garbage"; } >ta.age
	xfail "armor: data after the END line is an error" dec.out "" decrypt -i k.txt -o dec.out ta.age
fi

# Pipes, "-" and standard streams.
why=""
"$PQX" encrypt -r "$R" <p3145735 2>err1 | "$PQX" decrypt -i k.txt 2>err2 >pipe.out
cat err1 err2 >>allerr
cmp -s p3145735 pipe.out || why="differs: $(head -n 1 err1) $(head -n 1 err2)"
check "pipes: encrypt | decrypt of 3 MB through stdin and stdout" "$why"
why=""
if ! pq encrypt -r "$R" -o - - <p65536 >dash.age; then
	why="encrypt: exit $pq_rc: $(errline)"
elif ! pq decrypt -i k.txt -o - - <dash.age >dash.out; then
	why="decrypt: exit $pq_rc: $(errline)"
elif ! cmp -s p65536 dash.out; then
	why="differs"
fi
check "pipes: \"-\" as input and as -o" "$why"
why=""
# shellcheck disable=SC2002 # a pipe, not a regular file, on purpose
cat p131072 | "$PQX" encrypt -r "$R" -o cat.age 2>err
cat err >>allerr
# shellcheck disable=SC2002
if ! cat cat.age | pq decrypt -i k.txt -o cat.out; then
	why="exit $pq_rc: $(errline)"
elif ! cmp -s p131072 cat.out; then
	why="differs"
fi
check "pipes: input from a pipe, output to a file" "$why"

# Threads: one worker and all workers give the same plaintext.
why=""
rm -f j.age j1.out jn.out
if ! pq encrypt -j 1 -r "$R" -o j.age p3145735; then
	why="encrypt -j 1: exit $pq_rc: $(errline)"
elif ! pq decrypt -j 1 -i k.txt -o j1.out j.age; then
	why="decrypt -j 1: exit $pq_rc: $(errline)"
elif ! pq decrypt -i k.txt -o jn.out j.age; then
	why="decrypt: exit $pq_rc: $(errline)"
elif ! cmp -s j1.out jn.out || ! cmp -s p3145735 jn.out; then
	why="-j 1 and default threads differ"
fi
check "threads: -j 1 and the default decrypt to identical output" "$why"
rt "threads: -j 3 encrypt, -j 2 decrypt" p3145735 "-j 3 -r $R" "-j 2 -i k.txt"

# Passphrases, from a file descriptor.
printf '%s\n' "$PASS_A" >pw
printf '%s\n' "$PASS_B" >pw2
: >pw-empty
RT_FD3=pw
rt "passphrase: --passphrase-fd 3 on encrypt and decrypt" p65537 \
	"-p --passphrase-fd 3 --work-factor 10" "--passphrase-fd 3"
rt "passphrase: empty file" p0 "-p --passphrase-fd 3 --work-factor 10" "--passphrase-fd 3"
rt "passphrase: armored" p65536 "-a -p --passphrase-fd 3 --work-factor 10" "--passphrase-fd 3"
RT_FD3=/dev/null
why=""
rm -f pw.age
if pq encrypt -p --passphrase-fd 3 --work-factor 10 -o pw.age small 3<pw; then
	grep -q '^-> scrypt [A-Za-z0-9+/]\{22\} 10$' pw.age || why="no \"-> scrypt SALT 10\" stanza"
else
	why="exit $pq_rc: $(errline)"
fi
check "passphrase: --work-factor 10 is written in the scrypt stanza" "$why"
xfail "passphrase: a wrong passphrase is an error" dec.out "" \
	decrypt --passphrase-fd 3 -o dec.out pw.age 3<pw2
check "passphrase: a wrong passphrase is not reported as \"not passphrase-encrypted\"" \
	"$(grep -i 'not passphrase-encrypted' err | head -n 1)"
xfail "passphrase: an empty passphrase is refused" out.age "empty" \
	encrypt -p --passphrase-fd 3 -o out.age small 3<pw-empty
xfail "passphrase: an unreadable descriptor is an error" out.age "descriptor" \
	encrypt -p --passphrase-fd 9 -o out.age small
xfail "passphrase: --work-factor 31 is refused" out.age "work factor" \
	encrypt -p --passphrase-fd 3 --work-factor 31 -o out.age small 3<pw
xfail "decrypt: an identity file for a passphrase file is no match" dec.out "no identity matched" \
	decrypt -i k.txt -o dec.out pw.age
if command -v setsid >/dev/null 2>&1; then
	# setsid: no controlling terminal, so /dev/tty can't be opened.
	XF_WRAP="setsid -w"
	xfail "passphrase: no terminal and no --passphrase-fd is an error (encrypt)" out.age "terminal" \
		encrypt -p -o out.age small </dev/null
	xfail "passphrase: no terminal and no --passphrase-fd is an error (decrypt)" dec.out "terminal" \
		decrypt -o dec.out pw.age </dev/null
	check "passphrase: no terminal gives one error line, not two" \
		"$([ "$(grep -c '^pqx: error:' err)" -eq 1 ] || grep '^pqx: error:' err | tr '\n' ' ')"
	XF_WRAP=""
else
	skip "passphrase: no terminal and no --passphrase-fd is an error" "setsid is not installed"
fi

# A passphrase-encrypted identity file, binary and armored.
rm -f kp.age kp.asc
pq encrypt -p --passphrase-fd 3 --work-factor 10 -o kp.age kp.txt 3<pw
pq encrypt -a -p --passphrase-fd 3 --work-factor 10 -o kp.asc kp.txt 3<pw
RT_FD3=pw
rt "identity file: passphrase-encrypted (binary) with -i" p65537 "-r $RP" "-i kp.age --passphrase-fd 3"
rt "identity file: passphrase-encrypted (armored) with -i" small "-r $RP" "-i kp.asc --passphrase-fd 3"
RT_FD3=/dev/null
rm -f e.age
pq encrypt -r "$RP" -o e.age small
xfail "identity file: a wrong passphrase is an error" dec.out "wrong passphrase" \
	decrypt -i kp.age --passphrase-fd 3 -o dec.out e.age 3<pw2

# ---------------------------------------------------------------- errors

rm -f e.age
pq encrypt -r "$R" -o e.age p65537
xfail "decrypt: wrong identity says no identity matched" dec.out "no identity matched" \
	decrypt -i k3.txt -o dec.out e.age
xfail "decrypt: wrong identity, to standard output" "" "no identity matched" \
	decrypt -i kc.txt e.age
check "decrypt: wrong identity writes nothing to standard output" "$([ -s out ] && echo "wrote $(size out) bytes")"
xfail "decrypt: a bad identity file names the line" dec.out "line 3" \
	decrypt -i typo.txt -o dec.out e.age
xfail "decrypt: a missing identity file is an error" dec.out "no such file" \
	decrypt -i nonexistent.txt -o dec.out e.age
xfail "decrypt: a missing input file is an error" dec.out "no such file" \
	decrypt -i k.txt -o dec.out nonexistent.age
xfail "decrypt: a plaintext file is not an age file" dec.out "header" \
	decrypt -i k.txt -o dec.out small
xfail "decrypt: an empty input is an error" dec.out "" \
	decrypt -i k.txt -o dec.out p0

# A file of three chunks (two full, one short) to damage in every region.
L3=$((2 * CHUNK + 5000))
head -c "$L3" /dev/urandom >t3
rm -f t3.age
pq encrypt -r "$R" -o t3.age t3
H=$(head -n 4 t3.age | wc -c)
Z=$(size t3.age)
if [ "$Z" -ne $((H + 16 + L3 + 3 * 16)) ]; then
	no "tamper: layout of the three-chunk file" "size $Z, header $H"
fi
N=$((H + 16)) # the first chunk
BODY=$(($(head -n 2 t3.age | wc -c) + 5))
MAC=$(($(head -n 3 t3.age | wc -c) + 10))
# tamper WHAT OFFSET PATTERN: flips the byte at OFFSET of t3.age; decryption must fail.
tamper() {
	cp t3.age x.age
	flip x.age "$2"
	if cmp -s t3.age x.age; then
		no "$1" "the helper did not change the file"
		return
	fi
	xfail "$1" dec.out "$3" decrypt -i k.txt -o dec.out x.age
}
tamper "header bit flip: version line" 20 "version|header"
tamper "header bit flip: first byte" 0 "header"
tamper "header bit flip: stanza type" 25 "no identity matched|header"
tamper "header bit flip: stanza argument" 60 "no identity matched|header"
tamper "header bit flip: stanza body" "$BODY" "no identity matched|header"
tamper "header bit flip: MAC" "$MAC" "authentication|header"
tamper "header bit flip: the newline after the MAC" $((H - 1)) "header"
tamper "payload bit flip: the nonce" $((H + 3)) "authentication failed"
tamper "payload bit flip: first chunk" $((N + 100)) "authentication failed"
tamper "payload bit flip: first chunk's tag" $((N + SEALED - 1)) "authentication failed"
tamper "payload bit flip: middle chunk" $((N + SEALED + 30000)) "authentication failed"
tamper "payload bit flip: last chunk" $((N + 2 * SEALED + 10)) "authentication failed"
tamper "payload bit flip: the last tag byte" $((Z - 1)) "authentication failed"

# To standard output only chunks that verified come out: a damaged middle
# chunk lets exactly the first chunk through, a damaged first one nothing.
cp t3.age x.age
flip x.age $((N + SEALED + 30000))
"$PQX" decrypt -i k.txt x.age >part 2>err
rc=$?
cat err >>allerr
why=""
if [ "$rc" -ne 1 ]; then
	why="exit $rc"
elif [ "$(size part)" -ne "$CHUNK" ] || ! head -c "$CHUNK" t3 | cmp -s - part; then
	why="wrote $(size part) bytes, want the $CHUNK bytes of the first chunk"
fi
check "payload bit flip: to stdout, only the chunks before the damage are written" "$why"
cp t3.age x.age
flip x.age $((N + 5))
"$PQX" decrypt -i k.txt x.age >part 2>err
rc=$?
cat err >>allerr
check "payload bit flip: to stdout, a damaged first chunk writes nothing" \
	"$([ "$rc" -eq 1 ] && [ ! -s part ] || echo "exit $rc, $(size part) bytes")"

# cut_at WHAT LENGTH PATTERN: t3.age cut to LENGTH bytes must not decrypt.
cut_at() {
	head -c "$2" t3.age >x.age
	xfail "$1" dec.out "$3" decrypt -i k.txt -o dec.out x.age
}
cut_at "truncated: inside the version line" 10 "header"
cut_at "truncated: inside the stanza" 100 "header"
cut_at "truncated: inside the MAC line" $((H - 5)) "header"
cut_at "truncated: right after the header (no nonce)" "$H" "header|truncated"
cut_at "truncated: inside the nonce" $((H + 8)) "header|truncated"
cut_at "truncated: at chunk boundary 0 (nonce, no chunk)" "$N" "truncated"
cut_at "truncated: at chunk boundary 1" $((N + SEALED)) "truncated"
cut_at "truncated: at chunk boundary 2" $((N + 2 * SEALED)) "truncated"
cut_at "truncated: in the middle of chunk 1" $((N + 1000)) ""
cut_at "truncated: in the middle of chunk 2" $((N + SEALED + 40000)) ""
cut_at "truncated: inside the last tag" $((Z - 8)) ""
cut_at "truncated: one byte short" $((Z - 1)) ""
# A file that is an exact number of chunks, cut at its boundary.
rm -f f2.age
pq encrypt -r "$R" -o f2.age p131072
head -c $(($(size f2.age) - SEALED)) f2.age >x.age
xfail "truncated: a whole final full chunk removed" dec.out "truncated" decrypt -i k.txt -o dec.out x.age

{ cat t3.age; printf 'x'; } >x.age
xfail "trailing garbage: one byte after the last chunk" dec.out "" \
	decrypt -i k.txt -o dec.out x.age
{ cat t3.age; head -c 70000 /dev/urandom; } >x.age
xfail "trailing garbage: 70000 bytes after the last chunk" dec.out "" \
	decrypt -i k.txt -o dec.out x.age
{ cat f2.age; printf 'x'; } >x.age
xfail "trailing garbage: after a full final chunk" dec.out "after the end" \
	decrypt -i k.txt -o dec.out x.age

# Hand-made headers.
B43=$(head -c 32 /dev/urandom | base64 | tr -d '=\n')
SALT=$(head -c 16 /dev/urandom | base64 | tr -d '=\n')
ZERO=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
{
	printf 'age-encryption.org/v1\n-> X25519 %s\n%s\n--- %s\n' "$ZERO" "$B43" "$B43"
	head -c 100 /dev/urandom
} >low.age
xfail "crafted: an all-zero (low-order) X25519 share is a header error" dec.out "header" \
	decrypt -i kc.txt -o dec.out low.age
check "crafted: the low-order share is not reported as no match" \
	"$(grep -i 'no identity matched' err | head -n 1)"
{
	printf 'age-encryption.org/v1\n-> scrypt %s 23\n%s\n--- %s\n' "$SALT" "$B43" "$B43"
	head -c 100 /dev/urandom
} >wf.age
xfail "crafted: scrypt work factor 23 is refused" dec.out "work factor" \
	decrypt --passphrase-fd 3 -o dec.out wf.age 3<pw
{
	printf 'age-encryption.org/v1\n-> X25519 '
	head -c 1048576 /dev/zero | tr '\0' A
	printf '\n%s\n--- %s\n' "$B43" "$B43"
} >long.age
xfail "crafted: a 1 MB header line is refused" dec.out "header" \
	decrypt -i kc.txt -o dec.out long.age
{
	printf 'age-encryption.org/v1\n-> scrypt %s 10\n%s\n' "$SALT" "$B43"
	printf -- '-> X25519 %s\n%s\n--- %s\n' "$B43" "$B43" "$B43"
	head -c 100 /dev/urandom
} >mixed.age
xfail "crafted: an scrypt stanza beside an X25519 stanza (passphrase)" dec.out "only one|header" \
	decrypt --passphrase-fd 3 -o dec.out mixed.age 3<pw
xfail "crafted: an scrypt stanza beside an X25519 stanza (identity)" dec.out "only one|header" \
	decrypt -i kc.txt -o dec.out mixed.age
{
	printf 'age-encryption.org/v2\n-> X25519 %s\n%s\n--- %s\n' "$B43" "$B43" "$B43"
} >v2.age
xfail "crafted: an unknown version is unsupported" dec.out "unsupported" \
	decrypt -i kc.txt -o dec.out v2.age

# Output files: never replaced without -f, replaced with -f.
printf 'precious\n' >exists
cp exists exists.copy
xfail "output: decrypt refuses an existing -o file" "" "already exists" \
	decrypt -i k.txt -o exists e.age
grep -q '^pqx: hint: .*-f' err || no "output: the refusal hints at -f" "$(errline)"
check "output: the refused file keeps its content" "$(cmp -s exists exists.copy || echo changed)"
xfail "output: encrypt refuses an existing -o file" "" "already exists" \
	encrypt -r "$R" -o exists small
check "output: the refused file keeps its content (encrypt)" "$(cmp -s exists exists.copy || echo changed)"
why=""
if ! pq decrypt -f -i k.txt -o exists e.age; then
	why="exit $pq_rc: $(errline)"
elif ! cmp -s exists p65537; then
	why="the file was not replaced"
elif [ -n "$(leftovers .)" ]; then
	why="left a temporary file"
fi
check "output: -f replaces an existing file" "$why"
cp exists.copy exists
cp t3.age x.age
flip x.age $((N + SEALED + 30000))
xfail "output: -f keeps the old file when decryption fails" "" "authentication failed" \
	decrypt -f -i k.txt -o exists x.age
check "output: the old file is intact after a failed -f" "$(cmp -s exists exists.copy || echo changed)"

xfail "output: a directory that does not exist" "" "can't create" \
	decrypt -i k.txt -o no/such/dir/out e.age
xfail "output: a path under a regular file" "" "can't create" \
	decrypt -i k.txt -o small/out e.age
if [ "$(id -u)" -ne 0 ]; then
	mkdir rodir && chmod 555 rodir
	xfail "output: an unwritable directory" rodir/out "can't create|permission" \
		decrypt -i k.txt -o rodir/out e.age
	chmod 755 rodir
else
	mkdir rodir
	if mount -t tmpfs -o ro,size=64k tmpfs rodir 2>/dev/null; then
		mounts="$mounts rodir"
		xfail "output: an unwritable (read-only) directory" rodir/out "can't create|read-only" \
			decrypt -i k.txt -o rodir/out e.age
	else
		skip "output: an unwritable directory" "running as root and mount -t tmpfs failed"
	fi
fi

# An existing output that is not a regular file (a device, a FIFO) is written
# to, never replaced by a regular file: "pqx decrypt -f -o /dev/null" run as
# root must not destroy /dev/null. Uses a private null device made by mknod.
if [ "$(id -u)" -eq 0 ] && mknod -m 666 nulldev c 1 3 2>/dev/null; then
	"$PQX" decrypt -f -i k.txt -o nulldev e.age >out 2>err
	rc=$?
	cat err >>allerr
	check "output: -f -o to a device keeps the device" \
		"$([ -c nulldev ] || echo "exit $rc; nulldev is now $(kind nulldev)")"
	rm -f nulldev
	mknod -m 666 nulldev c 1 3
	"$PQX" decrypt -i k.txt -o nulldev e.age >out 2>err
	rc=$?
	cat err >>allerr
	check "output: -o to an existing device (like /dev/null) is written, not refused" \
		"$([ "$rc" -eq 0 ] && [ -c nulldev ] || echo "exit $rc: $(errline)")"
	rm -f nulldev
else
	skip "output: -o to a device" "needs root and mknod"
fi
if mkfifo fifo 2>/dev/null; then
	cat fifo >fifo.out &
	reader=$!
	"$PQX" decrypt -f -i k.txt -o fifo e.age >out 2>err
	rc=$?
	cat err >>allerr
	if [ -p fifo ]; then
		wait "$reader"
	else
		# The FIFO was replaced: open it once so that the reader ends.
		kill "$reader" 2>/dev/null
		wait "$reader" 2>/dev/null
	fi
	check "output: -f -o to a FIFO writes into the FIFO" \
		"$([ "$rc" -eq 0 ] && [ -p fifo ] && cmp -s fifo.out p65537 || echo "exit $rc; fifo is now $(kind fifo), $(size fifo.out) bytes read")"
	rm -f fifo fifo.out
else
	skip "output: -o to a FIFO" "mkfifo failed"
fi

# A full disk: a 1 MB tmpfs and a 4 MB file.
head -c 4194304 /dev/urandom >p4m
rm -f p4m.age
pq encrypt -r "$R" -o p4m.age p4m
mkdir full
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs full 2>/dev/null; then
	mounts="$mounts full"
	printf 'keep me\n' >full/keep
	xfail "full disk: encrypt says no space, leaves nothing" full/out.age "no space" \
		encrypt -r "$R" -o full/out.age p4m
	xfail "full disk: decrypt says no space, leaves nothing" full/out "no space" \
		decrypt -i k.txt -o full/out p4m.age
	check "full disk: the existing file is intact" \
		"$([ "$(cat full/keep)" = "keep me" ] || echo changed)"
	check "full disk: only the existing file remains" \
		"$(find full ! -name full -prune ! -name keep | tr '\n' ' ')"
	why=""
	if ! pq decrypt -i k.txt -o full/small.out e.age; then
		why="exit $pq_rc: $(errline)"
	elif ! cmp -s full/small.out p65537; then
		why="differs"
	fi
	check "full disk: the space was given back (a small file still fits)" "$why"
else
	skip "full disk" "needs root and mount -t tmpfs"
fi

# ---------------------------------------------------------------- terminals

if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "'$PQX' encrypt -r $RC small" /dev/null >tty.out 2>&1
	rc=$?
	cat tty.out >>allerr
	why=""
	if [ "$rc" -ne 1 ]; then
		why="exit $rc"
	elif ! grep -q '^pqx: error: refusing to write binary output to a terminal' tty.out; then
		why="no refusal: $(head -n 1 tty.out)"
	elif grep -q 'age-encryption.org' tty.out; then
		why="wrote ciphertext to the terminal"
	fi
	check "terminal: binary output to a terminal is refused" "$why"
	script -qec "'$PQX' encrypt -a -r $RC small" /dev/null >tty.out 2>&1
	rc=$?
	check "terminal: armored output to a terminal is fine" \
		"$([ "$rc" -eq 0 ] && grep -q -- '-----BEGIN AGE ENCRYPTED FILE-----' tty.out || echo "exit $rc: $(head -n 1 tty.out)")"
	rm -f s.age
	pq encrypt -r "$RC" -o s.age small
	script -qec "'$PQX' decrypt -i kc.txt s.age" /dev/null >tty.out 2>&1
	rc=$?
	check "terminal: decrypted text to a terminal is fine" \
		"$([ "$rc" -eq 0 ] && grep -q 'hello, pqx' tty.out || echo "exit $rc: $(head -n 1 tty.out)")"
	script -qec "'$PQX' encrypt -r $RC -o tty.age small" /dev/null >tty.out 2>&1
	rc=$?
	check "terminal: -o FILE from a terminal session is fine" \
		"$([ "$rc" -eq 0 ] && [ -s tty.age ] || echo "exit $rc: $(head -n 1 tty.out)")"
else
	skip "terminal: binary output to a terminal is refused" "util-linux script is not installed"
fi

# ---------------------------------------------------------------- usage

"$PQX" >out 2>err
rc=$?
check "usage: pqx alone prints usage on stderr and exits 1" \
	"$([ "$rc" -eq 1 ] && [ ! -s out ] && grep -q '^Usage: pqx' err || echo "exit $rc")"
for a in help --help -h; do
	"$PQX" $a >out 2>err
	rc=$?
	check "usage: pqx $a prints usage on stdout and exits 0" \
		"$([ "$rc" -eq 0 ] && grep -q '^Usage: pqx' out && grep -q 'encrypt' out || echo "exit $rc")"
done
for c in keygen encrypt decrypt; do
	"$PQX" $c --help >out 2>err
	rc=$?
	check "usage: pqx $c --help prints its usage with an example and exits 0" \
		"$([ "$rc" -eq 0 ] && grep -q "^Usage: pqx $c" out && grep -q '^Example:' out || echo "exit $rc")"
done
"$PQX" version >out 2>err
rc=$?
check "usage: pqx version" "$([ "$rc" -eq 0 ] && grep -q '^pqx ' out || echo "exit $rc")"
xfail "usage: unknown command" "" "unknown command" frobnicate
grep -q '^pqx: hint: ' err || no "usage: unknown command gives a hint" "$(errline)"
xfail "usage: unknown long flag (encrypt --bogus)" out.age "bogus" encrypt --bogus -r "$R" -o out.age small
xfail "usage: unknown short flag (decrypt -x)" "" "-x|option" decrypt -x -i k.txt e.age
xfail "usage: unknown flag (keygen --nope)" "" "nope" keygen --nope
xfail "usage: missing recipients" out.age "missing recipients" encrypt -o out.age small
grep -q '^pqx: hint: ' err || no "usage: missing recipients gives a hint" "$(errline)"
xfail "usage: -p with -r" out.age "can't be combined" \
	encrypt -p --passphrase-fd 3 -r "$R" -o out.age small 3<pw
grep -q '^pqx: hint: ' err || no "usage: -p with -r gives a hint" "$(errline)"
xfail "usage: too many arguments" out.age "too many" encrypt -r "$R" -o out.age small small
xfail "usage: an invalid recipient" out.age "invalid recipient" encrypt -r age1nope -o out.age small
xfail "usage: --threads 0" out.age "threads" encrypt -j 0 -r "$R" -o out.age small
xfail "usage: --threads 65" dec.out "threads" decrypt -j 65 -i k.txt -o dec.out e.age
# A throwaway key, so that the global check below stays independent of this one.
"$PQX" keygen -o kx.txt 2>/dev/null
SECRET=$(grep '^AGE-SECRET-KEY' kx.txt)
"$PQX" encrypt -r "$SECRET" -o out.age small >out 2>err
rc=$?
check "usage: a secret key given as -r is refused" "$([ "$rc" -eq 1 ] && [ ! -e out.age ] || echo "exit $rc")"
check "secrets: a secret key given as -r is not echoed" \
	"$(grep -F "$(echo "$SECRET" | cut -c20-31)" err | head -n 1 | cut -c1-80)"

# ---------------------------------------------------------------- secrets

# No secret key (or a piece of one) and no passphrase in any stderr above.
why=""
for f in k.txt kc.txt k2.txt k3.txt kp.txt typo.txt; do
	s=$(sed -n 's/^AGE-SECRET-KEY-\(PQ-\)\{0,1\}1//p' "$f" | cut -c1-12)
	[ -n "$s" ] && grep -qF "$s" allerr && why="$why $f"
done
for p in "$PASS_A" "$PASS_B" "correct horse" "Tr0ub4dor"; do
	grep -qF "$p" allerr && why="$why \"$p\""
done
check "secrets: no secret key or passphrase in any error output ($(wc -l <allerr | tr -d ' ') lines)" \
	"$([ -z "$why" ] || echo "found:$why")"
check "secrets: no temporary files left anywhere" "$(leftovers . | head -n 1)"

exit "$status"
