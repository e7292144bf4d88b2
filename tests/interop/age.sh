#!/bin/sh
# pqx interop: pqx's age files against Debian's age 1.1.1 (age, age-keygen), both directions.
#
# Usage: sh tests/interop/age.sh BUILD   (the build folder holding pqx)
# Every run uses fresh random files and fresh keys, in a mktemp -d folder removed at exit.
# Prints one "PASS interop age-1.1.1 ..." / "FAIL ..." / "SKIP ..." line per check;
# exits 1 on any FAIL. age 1.1.1 asks passphrases only on a terminal: they are typed into a
# pseudo-terminal by python3's pty module, or by util-linux's script(1) where python3 is missing.
# age 1.1.1 does not know mlkem768x25519: for post-quantum files only a clean refusal is checked.
set -u
BUILD=${1:-build}
pqx=$BUILD/pqx
case $pqx in /*) ;; *) pqx=$(pwd)/$pqx ;; esac
N="interop age-1.1.1"

if ! command -v age >/dev/null 2>&1 || ! command -v age-keygen >/dev/null 2>&1; then
	echo "SKIP $N: age is not installed (scripts/deps.sh installs it)"
	exit 0
fi
if [ ! -x "$pqx" ]; then
	echo "FAIL $N: $pqx is not built (make all)"
	exit 1
fi
N="interop age-$(age --version 2>/dev/null | sed 's/^v//')"

T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1
failed=0
TO="timeout 60"

pass() { echo "PASS $N $1"; }
fail() {
	echo "FAIL $N $1: $2"
	failed=1
	[ -s err ] && tr -d '\r\033' <err | awk 'NR <= 5 { print "    " $0 }'
	return 0
}
sha() { sha256sum "$1" 2>/dev/null | cut -c1-16; }
# same NAME WANT GOT: the check passes when GOT holds exactly WANT's bytes.
same() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "want sha256 $(sha "$2")..., got $(sha "$3")... ($(wc -c <"$3" 2>/dev/null || echo no) bytes)"
	fi
}
# refuses NAME OUT CMD...: CMD must exit with an error status (not a signal or timeout), say why
# on stderr, and leave no OUT.
refuses() {
	name=$1 out=$2
	shift 2
	rm -f "$out"
	$TO "$@" >stdout 2>err
	rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$name" "succeeded"
	elif [ "$rc" -ge 124 ]; then
		fail "$name" "exit status $rc (timeout or signal)"
	elif [ ! -s err ]; then
		fail "$name" "no error message"
	elif [ -e "$out" ] || [ -s stdout ]; then
		fail "$name" "wrote output"
	else
		pass "$name ($(head -1 err | cut -c1-70))"
	fi
}
rnd() { head -c "$2" /dev/urandom >"$1"; }
rndnum() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }
# A random passphrase, with a space and non-ASCII letters (UTF-8) in it.
rndpass() { printf '%s \303\251t\303\251 %s' "$(head -c 12 /dev/urandom | base64 | tr '/+' '_-')" "$(rndnum)"; }

# on_tty PASSPHRASE CMD...: runs CMD on a pseudo-terminal, answering each passphrase prompt.
on_tty() {
	PQX_TTY_PASS=$1
	export PQX_TTY_PASS
	shift
	if command -v python3 >/dev/null 2>&1; then
		$TO python3 -c '
import os, pty, re, select, signal, sys, time
pw = os.environ["PQX_TTY_PASS"].encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf, answered, end = b"", 0, time.time() + 50
while True:
    r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
    if not r:
        os.kill(pid, signal.SIGKILL)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    buf += data
    for _ in range(len(re.findall(rb"[Pp]assphrase[^\n]*?: ", buf)) - answered):
        os.write(fd, pw)
        answered += 1
_, st = os.waitpid(pid, 0)
sys.stderr.write(buf.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(st))
' "$@"
	else
		# script(1) forwards its standard input to the terminal; the delays let age ask first.
		cmd=""
		for a in "$@"; do cmd="$cmd '$a'"; done
		{ sleep 1; printf '%s\n' "$PQX_TTY_PASS"; sleep 1; printf '%s\n' "$PQX_TTY_PASS"; sleep 1; } |
			$TO script -qec "$cmd" /dev/null >&2
	fi
}

# Keys: X25519 from each side, and a post-quantum one from pqx.
if ! age-keygen -o a.key 2>err || ! $TO "$pqx" keygen --classic -o x.key 2>err ||
	! $TO "$pqx" keygen -o pq.key 2>err; then
	fail "keygen" "could not make keys"
	exit 1
fi
A=$(age-keygen -y a.key) X=$(age-keygen -y x.key 2>err)
if [ "$($pqx keygen -y a.key 2>err)" = "$A" ]; then
	pass "pqx keygen -y of an age-keygen identity"
else
	fail "pqx keygen -y of an age-keygen identity" "differs from age-keygen -y"
fi
if [ -n "$X" ] && [ "$X" = "$($pqx keygen -y x.key 2>err)" ] && grep -q "^# public key: $X\$" x.key; then
	pass "age-keygen -y of a pqx --classic identity"
else
	fail "age-keygen -y of a pqx --classic identity" "differs from pqx keygen -y / the public key comment"
fi
PQ=$($pqx keygen -y pq.key)
cat a.key x.key >ax.key

# X25519, binary: each tool encrypts to keys from both generators, the other decrypts.
sizes="0 1 65536 65537 $((1048576 + $(rndnum) % 4096))"
for n in $sizes; do
	rnd in "$n"
	rm -f c o
	$TO "$pqx" encrypt -q -r "$A" -o c in 2>err && $TO age -d -i a.key c >o 2>err
	same "pqx->age X25519 (age-keygen key) $n bytes" in o
	rm -f c o
	$TO "$pqx" encrypt -q -r "$X" -o c in 2>err && $TO age -d -i x.key c >o 2>err
	same "pqx->age X25519 (pqx key) $n bytes" in o
	rm -f c o
	$TO age -e -r "$X" -o c in 2>err && $TO "$pqx" decrypt -q -i x.key -o o c 2>err
	same "age->pqx X25519 (pqx key) $n bytes" in o
	rm -f c o
	# Through pipes: pqx reads the file on stdin and writes the plaintext to stdout.
	$TO age -e -r "$A" in 2>err | $TO "$pqx" decrypt -q -i a.key >o 2>>err
	same "age->pqx X25519 (age-keygen key, stdin/stdout) $n bytes" in o
done

# ASCII armor, both ways.
for n in 0 65537 "$((1048576 + $(rndnum) % 4096))"; do
	rnd in "$n"
	rm -f c o
	$TO "$pqx" encrypt -q -a -r "$A" -o c in 2>err && head -1 c | grep -q '^-----BEGIN AGE ENCRYPTED FILE-----$' &&
		$TO age -d -i a.key c >o 2>err
	same "pqx->age armored $n bytes" in o
	rm -f c o
	$TO age -e -a -r "$X" -o c in 2>err && $TO "$pqx" decrypt -q -i x.key -o o c 2>err
	same "age->pqx armored $n bytes" in o
	rm -f o
	$TO "$pqx" decrypt -q -i x.key <c >o 2>err
	same "age->pqx armored on stdin $n bytes" in o
done

# Several recipients: -r twice, a recipients file (with comments and a blank line), identity
# files holding several identities.
rnd in "$((65536 * 3 + $(rndnum)))"
printf '# recipients for the interop test\n%s\n\n# and pqx'"'"'s\n%s\n' "$A" "$X" >rcpts
rm -f c
$TO "$pqx" encrypt -q -r "$A" -r "$X" -o c in 2>err
for k in a x; do
	rm -f o
	$TO age -d -i $k.key c >o 2>err
	same "pqx->age two recipients (-r -r), identity $k" in o
done
rm -f c
$TO "$pqx" encrypt -q -R rcpts -o c in 2>err
for k in a x; do
	rm -f o
	$TO age -d -i $k.key c >o 2>err
	same "pqx->age recipients file, identity $k" in o
done
rm -f c
$TO age -e -r "$A" -r "$X" -o c in 2>err
for k in a x; do
	rm -f o
	$TO "$pqx" decrypt -q -i $k.key -o o c 2>err
	same "age->pqx two recipients (-r -r), identity $k" in o
done
rm -f c
$TO age -e -R rcpts -o c in 2>err
for k in a x; do
	rm -f o
	$TO "$pqx" decrypt -q -i $k.key -o o c 2>err
	same "age->pqx recipients file, identity $k" in o
done
rm -f c o
$TO age -e -r "$X" -o c in 2>err && $TO "$pqx" decrypt -q -i ax.key -o o c 2>err
same "age->pqx identity file with two identities" in o
rm -f c o
$TO "$pqx" encrypt -q -r "$X" -o c in 2>err && $TO age -d -i ax.key c >o 2>err
same "pqx->age identity file with two identities" in o
rm -f c o
$TO "$pqx" encrypt -q -r "$A" -o c in 2>err && $TO age -d -i a.key -i x.key c >o 2>err
same "pqx->age -i twice" in o

# Passphrases (scrypt): age types them on the terminal, pqx reads them from a descriptor.
pw=$(rndpass)
printf '%s\n' "$pw" >pw
# (age -d writes to stdout: age 1.1.1 -o makes no file for an empty plaintext.)
# (age 1.1.1 always uses work factor 18, about a second each way: those checks are few;
# pqx uses lower ones, and typage.mjs checks pqx's default)
rnd in 0
rm -f c o
$TO "$pqx" encrypt -q -p --passphrase-fd 3 --work-factor 11 -o c in 3<pw 2>err && on_tty "$pw" sh -c 'exec age -d c >o' 2>err
same "pqx->age scrypt (work factor 11) 0 bytes" in o
rnd in "$((65536 + $(rndnum)))"
rm -f c o
$TO "$pqx" encrypt -q -p --passphrase-fd 3 --work-factor 10 -o c in 3<pw 2>err && on_tty "$pw" sh -c 'exec age -d c >o' 2>err
same "pqx->age scrypt (work factor 10) $(wc -c <in) bytes" in o
rm -f c o
$TO "$pqx" encrypt -q -a -p --passphrase-fd 3 --work-factor 12 -o c in 3<pw 2>err &&
	on_tty "$pw" sh -c 'exec age -d c >o' 2>err
same "pqx->age scrypt armored (work factor 12) $(wc -c <in) bytes" in o
rm -f c o
on_tty "$pw" age -p -a -o c in 2>err && $TO "$pqx" decrypt -q --passphrase-fd 3 -o o c 3<pw 2>err
same "age->pqx scrypt armored $(wc -c <in) bytes" in o
printf 'not %s\n' "$pw" >badpw
refuses "age->pqx scrypt, wrong passphrase refused" o "$pqx" decrypt -q --passphrase-fd 3 -o o c 3<badpw

# Passphrase-protected identity files: each tool decrypts with an identity file the other locked.
rnd in "$((1 + $(rndnum)))"
rm -f c o a.key.age
on_tty "$pw" age -p -o a.key.age a.key 2>err && $TO age -e -r "$A" -o c in 2>err &&
	$TO "$pqx" decrypt -q -i a.key.age --passphrase-fd 3 -o o c 3<pw 2>err
same "age->pqx identity file locked by age -p (binary)" in o
rm -f c o x.key.age
$TO "$pqx" encrypt -q -p --passphrase-fd 3 --work-factor 10 -o x.key.age x.key 3<pw 2>err &&
	$TO "$pqx" encrypt -q -r "$X" -o c in 2>err && on_tty "$pw" sh -c 'exec age -d -i x.key.age c >o' 2>err
same "pqx->age identity file locked by pqx -p" in o

# Tampering and wrong keys: pqx must refuse age's files and leave no output behind.
rnd in "$((65536 * 2 + $(rndnum)))"
rm -f c
$TO age -e -r "$A" -o c in 2>err
sz=$(wc -c <c)
cp c t && printf '\001' | dd of=t bs=1 seek=$((sz - 1)) conv=notrunc 2>/dev/null
[ "$(tail -c 1 t | od -An -tu1)" != "$(tail -c 1 c | od -An -tu1)" ] || printf '\002' |
	dd of=t bs=1 seek=$((sz - 1)) conv=notrunc 2>/dev/null
refuses "age->pqx last chunk tampered, refused" o "$pqx" decrypt -q -i a.key -o o t
extra=""
for e in * .[!.]*; do
	case $e in
	in | c | t | err | stdout | pw | badpw | rcpts | *.key | *.key.age | '.[!.]*') ;;
	*) extra="$extra $e" ;;
	esac
done
if [ -z "$extra" ]; then
	pass "pqx leaves no output or temporary file after a refused decryption"
else
	fail "pqx leaves no output or temporary file after a refused decryption" "found:$extra"
fi
refuses "age->pqx wrong identity refused" o "$pqx" decrypt -q -i x.key -o o c
rm -f c
$TO "$pqx" encrypt -q -r "$A" -o c in 2>err
cp c t && printf 'X' | dd of=t bs=1 seek=30 conv=notrunc 2>/dev/null
refuses "pqx->age header tampered, refused by age" o age -d -i a.key -o o t

# Post-quantum: age 1.1.1 does not know mlkem768x25519; it must refuse cleanly.
rnd in "$(($(rndnum) + 1))"
rm -f c
if $TO "$pqx" encrypt -q -r "$PQ" -o c in 2>err && head -2 c | grep -q '^-> mlkem768x25519 '; then
	pass "pqx writes an mlkem768x25519 stanza for age1pq1 recipients"
else
	fail "pqx writes an mlkem768x25519 stanza for age1pq1 recipients" "no such stanza"
fi
refuses "age refuses an age1pq1 recipient" o age -e -r "$PQ" -o o in
refuses "age refuses a pqx post-quantum identity file" o age -d -i pq.key -o o c
refuses "age with an X25519 identity refuses a post-quantum file" o age -d -i a.key -o o c
refuses "age-keygen -y refuses a post-quantum identity" o age-keygen -y pq.key

exit $failed
