#!/bin/sh
# pqx demo: the main job end to end: post-quantum keys, encrypt, decrypt, and an age round trip.
set -eu
BUILD=${1:-build}
PQX=$(cd "$BUILD" && pwd)/pqx
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step pqx version
"$PQX" version

step pqx keygen -o alice.key
"$PQX" keygen -o alice.key
RCPT=$("$PQX" keygen -y alice.key)
echo "(alice's post-quantum recipient is ${#RCPT} characters: ML-KEM-768 + X25519)"

step "head -c 50000000 /dev/urandom > model.bin"
head -c 50000000 /dev/urandom >model.bin

step "pqx encrypt -r \$(pqx keygen -y alice.key) -o model.bin.age model.bin"
"$PQX" encrypt -r "$RCPT" -o model.bin.age model.bin
ls -l model.bin model.bin.age
head -c 200 model.bin.age | head -3 | cut -c1-72

step pqx decrypt -i alice.key -o model.out model.bin.age
"$PQX" decrypt -i alice.key -o model.out model.bin.age
cmp model.bin model.out && echo "decrypted file is identical"

step "tamper with one byte, then decrypt again"
cp model.bin.age tampered.age
printf 'X' | dd of=tampered.age bs=1 seek=30000000 conv=notrunc 2>/dev/null
if "$PQX" decrypt -i alice.key -o tampered.out tampered.age; then
	echo "demo: tampering was not detected" >&2
	exit 1
fi
[ ! -e tampered.out ] && echo "(no output file was left behind)"

if command -v age >/dev/null 2>&1; then
	step "interop with age $(age --version): age-keygen, pqx encrypt, age decrypt"
	age-keygen -o bob.key 2>/dev/null
	echo "hello from pqx" | "$PQX" encrypt -a -r "$(age-keygen -y bob.key)" >hello.age
	head -2 hello.age
	age -d -i bob.key hello.age
	step "and back: age encrypt, pqx decrypt"
	echo "hello from age" | age -r "$(age-keygen -y bob.key)" | "$PQX" decrypt -i bob.key
fi
step "files in flight: pqx serve on loopback, then pqx send and pqx get"
export PQX_CONFIG_DIR="$dir/config"
"$PQX" keygen -o server.key 2>/dev/null
echo "$("$PQX" keygen -y alice.key) alice" >authorized
mkdir -p srv
PORT=$((20000 + $$ % 20000))
"$PQX" serve --root srv --identity server.key --authorized authorized --listen 127.0.0.1:$PORT 2>serve.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 0.5
step "pqx send -i alice.key --server-key \$(pqx keygen -y server.key) model.bin pqx://127.0.0.1:$PORT/inbox"
"$PQX" send -i alice.key --server-key "$("$PQX" keygen -y server.key)" model.bin "pqx://127.0.0.1:$PORT/inbox"
step "pqx get -i alice.key ... pqx://127.0.0.1:$PORT/inbox/model.bin -o fetched --json"
"$PQX" get -i alice.key --server-key "$("$PQX" keygen -y server.key)" \
	"pqx://127.0.0.1:$PORT/inbox/model.bin" -o fetched --json
cmp model.bin fetched/model.bin && echo "fetched file is identical"
step "send it again: nothing is missing, so nothing crosses"
"$PQX" send -i alice.key --server-key "$("$PQX" keygen -y server.key)" --json model.bin "pqx://127.0.0.1:$PORT/inbox"
step "change 64 KiB in the middle and send the new version: only the changed chunks cross"
head -c 65536 /dev/urandom | dd of=model.bin bs=65536 seek=100 conv=notrunc 2>/dev/null
"$PQX" send -i alice.key --server-key "$("$PQX" keygen -y server.key)" --stats model.bin "pqx://127.0.0.1:$PORT/inbox"
cmp model.bin srv/inbox/model.bin && echo "the server's copy is the new version"
kill $SERVER; wait $SERVER 2>/dev/null || true
echo "server log:"
cut -c1-160 serve.log

printf '\ndemo: done\n'
