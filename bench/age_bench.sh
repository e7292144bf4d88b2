#!/bin/sh
# pqx bench: age-format throughput and memory against Debian's age in the same run, on one cached file.
# Usage: bench/age_bench.sh BUILD [SIZE_MIB]   (defaults: build, 1024)
set -u
BUILD=${1:-build}
MIB=${2:-1024}
PQX=$(cd "$(dirname "$BUILD/pqx")" && pwd)/pqx
command -v age >/dev/null 2>&1 || { echo "bench: age is not installed (make deps)"; exit 1; }
command -v /usr/bin/time >/dev/null 2>&1 || { echo "bench: /usr/bin/time is missing (make deps)"; exit 1; }
dir=${PQX_BENCH_DIR:-$(mktemp -d /var/tmp/pqx-bench.XXXXXX)}
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

# One X25519 identity both tools read (age 1.1.1 has no post-quantum type),
# and a post-quantum one for pqx.
age-keygen -o age.key 2>/dev/null
R=$(age-keygen -y age.key)
"$PQX" keygen -o pq.key 2>/dev/null
RPQ=$("$PQX" keygen -y pq.key)
head -c "$((MIB * 1048576))" /dev/urandom >in.bin
cat in.bin >/dev/null
age -r "$R" -o in.age in.bin
cores=$(nproc)
echo "# $MIB MiB, cached; $cores cores; $(age --version 2>&1 | head -1) vs pqx $("$PQX" version | cut -d' ' -f2)"

# run VAR LABEL CMD...: wall seconds (best of 3, into $VAR) and peak RSS (KiB).
run() {
	var=$1 label=$2
	shift 2
	best=""
	for i in 1 2 3; do
		/usr/bin/time -f "%e %M" -o t.out "$@" || { echo "bench: $label failed"; exit 1; }
		read -r s kb <t.out
		if [ -z "$best" ] || [ "$(awk "BEGIN{print ($s < $best)}")" = 1 ]; then
			best=$s bestkb=$kb
		fi
	done
	printf '%-44s %7.2f s %8.0f MiB/s %6d KiB RSS\n' "$label" "$best" \
		"$(awk "BEGIN{print $MIB / ($best > 0 ? $best : 0.001)}")" "$bestkb"
	eval "$var=$best"
}

run a_enc "age encrypt -> /dev/null" age -r "$R" -o /dev/null in.bin
run p_enc1 "pqx encrypt -j1 -> /dev/null" "$PQX" encrypt -q -j 1 -r "$R" -o /dev/null -f in.bin
run p_encn "pqx encrypt (all cores) -> /dev/null" "$PQX" encrypt -q -r "$R" -o /dev/null -f in.bin
run p_encpq "pqx encrypt PQ (all cores) -> /dev/null" "$PQX" encrypt -q -r "$RPQ" -o /dev/null -f in.bin
run a_dec "age decrypt -> /dev/null" age -d -i age.key -o /dev/null in.age
run p_dec1 "pqx decrypt -j1 -> /dev/null" "$PQX" decrypt -q -j 1 -i age.key -o /dev/null -f in.age
run p_decn "pqx decrypt (all cores) -> /dev/null" "$PQX" decrypt -q -i age.key -o /dev/null -f in.age
# File to file, alternating with cp of the same bytes.
run cp1 "cp file -> file" cp in.bin out.cp
run p_fe "pqx encrypt file -> file" "$PQX" encrypt -q -r "$R" -o out.age -f in.bin
run cp2 "cp file -> file (again)" cp in.bin out.cp
# pqx fsyncs its output before renaming it into place; cp does not.
run cps "cp file -> file, then sync (as durable)" sh -c 'cp in.bin out.cp && sync out.cp'
run p_fd "pqx decrypt file -> file" "$PQX" decrypt -q -i age.key -o out.bin -f in.age
cmp in.bin out.bin || { echo "bench: round trip mismatch"; exit 1; }
rm -f out.cp out.bin out.age

awk -v a="$a_enc" -v p1="$p_enc1" -v pn="$p_encn" -v da="$a_dec" -v d1="$p_dec1" \
    -v dn="$p_decn" -v cp="$cp1" -v cp2="$cp2" -v cps="$cps" -v fe="$p_fe" -v fd="$p_fd" -v c="$cores" '
BEGIN {
	printf "ratios (throughput vs age; >1 is faster):\n"
	printf "  encrypt 1 thread %.2fx, all cores %.2fx (target >= %.2fx)\n", a / p1, a / pn, 0.9 * c
	printf "  decrypt 1 thread %.2fx, all cores %.2fx (target >= %.2fx)\n", da / d1, da / dn, 0.9 * c
	cpm = (cp < cp2 ? cp : cp2)
	printf "  file->file vs cp: encrypt %.2fx, decrypt %.2fx of cp time (target <= 1.20x)\n", fe / cpm, fd / cpm
	printf "  file->file vs cp+sync (same durability): encrypt %.2fx, decrypt %.2fx\n", fe / cps, fd / cps
}'

# Memory is flat in the input size: 1 GiB vs 8 GiB streamed through pipes.
for g in 1 8; do
	/usr/bin/time -f "%M" -o t.out sh -c "head -c ${g}G /dev/zero | '$PQX' encrypt -q -r '$RPQ' >/dev/null"
	printf 'peak RSS, pqx encrypt of %d GiB through a pipe: %s KiB\n' "$g" "$(cat t.out)"
done
head -c 1G /dev/zero | "$PQX" encrypt -q -r "$RPQ" >z.age
/usr/bin/time -f "%M" -o t.out "$PQX" decrypt -q -i pq.key -o /dev/null z.age
printf 'peak RSS, pqx decrypt of 1 GiB: %s KiB\n' "$(cat t.out)"
