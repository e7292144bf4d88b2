#!/bin/sh
# pqx bench: what the loopback benchmarks share: timing, ports, a throwaway sshd.
# Sourced by bench/net_bench.sh and bench/dedup_bench.sh after they set $dir
# (their temporary directory, the current directory) and sshd_pid="".
# shellcheck disable=SC2154,SC2034 # $dir comes from the caller; sshd_pid is for its cleanup

fail() {
	echo "bench: $*"
	exit 1
}
now() { date +%s.%N; }
# ms FROM TO: milliseconds between two now() stamps.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
# listening PORT: whether something listens on 127.0.0.1:PORT (IPv4).
listening() {
	grep -qi "^ *[0-9]*: 0100007F:$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp
}
# wait_listen PORT: up to 10 s.
wait_listen() {
	i=0
	while ! listening "$1"; do
		i=$((i + 1))
		[ "$i" -le 200 ] || return 1
		sleep 0.05
	done
}
# free_port: a free port (bounded tries) below Linux's ephemeral range
# (32768-60999), where a client's socket could already hold it.
port_base=$((20000 + $$ % 12000))
free_port() {
	i=0
	while [ "$i" -lt 100 ]; do
		p=$((port_base + i))
		if ! listening "$p"; then
			port_base=$((p + 1))
			echo "$p"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# start_sshd: a throwaway sshd on 127.0.0.1 as root (pubkey only, our key, our
# host key and config in $dir); sets SP (its port), sshd_pid and SSHO (the ssh
# options that reach it, with LogLevel left to the caller).
start_sshd() {
	[ "$(id -u)" -eq 0 ] || fail "the sshd peer runs as root (it logs in as root on 127.0.0.1)"
	# sshd's privilege separation directory; the Debian service makes it at boot.
	[ -d /run/sshd ] || mkdir -m 0755 /run/sshd || fail "can't create /run/sshd"
	SP=$(free_port) || fail "no free port"
	ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f id_client ||
		fail "ssh-keygen failed"
	cp id_client.pub authorized_keys
	cat >sshd_config <<-EOF
	ListenAddress 127.0.0.1
	HostKey $dir/host_key
	PidFile $dir/sshd.pid
	AuthorizedKeysFile $dir/authorized_keys
	PermitRootLogin prohibit-password
	PubkeyAuthentication yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	UseDNS no
	PrintMotd no
	PrintLastLog no
	Compression no
	Ciphers aes256-gcm@openssh.com
	Subsystem sftp internal-sftp
	LogLevel ERROR
	MaxStartups 200
	# Debian's bash reads ~/.bashrc for an ssh command when SHLVL is unset (level 1);
	# from level 2 on it does not, so the account's shell setup is not timed.
	SetEnv SHLVL=1
	EOF
	/usr/sbin/sshd -D -f "$dir/sshd_config" -p "$SP" -E "$dir/sshd.log" &
	sshd_pid=$!
	wait_listen "$SP" || fail "sshd did not start: $(cat sshd.log)"
	SSHO="-F /dev/null -i $dir/id_client -o IdentitiesOnly=yes -o BatchMode=yes \
-o UserKnownHostsFile=$dir/known_hosts -o GlobalKnownHostsFile=/dev/null \
-o StrictHostKeyChecking=accept-new -o Compression=no -c aes256-gcm@openssh.com"
}

hz=$(getconf CLK_TCK)
# cpu_ms PID: the process's CPU so far (its threads and waited-for children), ms.
cpu_ms() { awk -v hz="$hz" '{ print ($14 + $15 + $16 + $17) * 1000 / hz }' "/proc/$1/stat"; }
# settle PID: waits until the server's CPU stops growing: sshd reaps its
# session process, pqx serve finishes indexing what it received (it does that
# after it confirms the file), so the next run starts on idle cores and the
# server's CPU counts all of its work.
settle() {
	st_a=$(cpu_ms "$1")
	while sleep 0.25 && st_b=$(cpu_ms "$1") && [ "$st_b" != "$st_a" ]; do
		st_a=$st_b
	done
}
