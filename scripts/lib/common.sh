# shellcheck shell=bash
# scripts/lib/common.sh: helpers shared by scripts/run, scripts/test and
# scripts/stack.  Sourced, never run.  Callers set APX_PROG (name used in
# messages) and run with `set -euo pipefail`.

APX_ROOT=${APX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
APX_PROG=${APX_PROG:-$(basename "$0")}

# Messages go to stderr so that stdout stays usable by callers.
apx_say() {
	printf '%s: %s\n' "$APX_PROG" "$*" >&2
}

apx_warn() {
	printf '%s: warning: %s\n' "$APX_PROG" "$*" >&2
}

apx_die() {
	printf '%s: error: %s\n' "$APX_PROG" "$*" >&2
	exit 1
}

apx_need_root() {
	[ "$(id -u)" -eq 0 ] ||
	    apx_die "must run as root (it starts PostgreSQL as 'postgres' and the web server as 'www-data')"
}

# apx_need_cmd CMD [PACKAGE]: die with the Debian package to install.
apx_need_cmd() {
	command -v "$1" >/dev/null 2>&1 ||
	    apx_die "'$1' not found: install the Debian package ${2:-$1} (scripts/lib/deps.sh installs everything)"
}

# apx_abspath PATH: absolute path (the path need not exist).
apx_abspath() {
	case $1 in
	/*) realpath -m -- "$1" ;;
	*) realpath -m -- "$PWD/$1" ;;
	esac
}

# apx_random_hex N: N random bytes as 2N hex digits (safe in conninfo,
# pgpass and config lines: no quoting needed).
apx_random_hex() {
	head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

# apx_shq VALUE: VALUE single-quoted for sh (and Python's shlex).
apx_shq() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# apx_port_free PORT: 0 when nothing accepts connections on 127.0.0.1:PORT.
# (A port taken between this check and the bind is retried by the caller.)
apx_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# apx_find_port START: first free port in START..START+199, printed.
apx_find_port() {
	local p=$1 last=$(($1 + 199))
	while [ "$p" -le "$last" ]; do
		if apx_port_free "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
		p=$((p + 1))
	done
	apx_die "no free TCP port on 127.0.0.1 in $1..$last"
}

# apx_http_status URL: the HTTP status code, 000 when nothing answered.
apx_http_status() {
	curl -s -o /dev/null --max-time "${2:-3}" -w '%{http_code}' "$1" 2>/dev/null || true
}

# apx_tail FILE [N]: the last N lines of FILE, indented, when it exists.
apx_tail() {
	local f=$1 n=${2:-30}
	if [ -s "$f" ]; then
		printf '%s: --- last %s lines of %s ---\n' "$APX_PROG" "$n" "$f" >&2
		tail -n "$n" -- "$f" | sed 's/^/    /' >&2
	fi
}

# apx_proc_alive PID [EXE-BASENAME]: the process exists, is not a zombie and
# (when given) runs that program.  Guards every kill against pid reuse.
apx_proc_alive() {
	local pid=$1 want=${2:-} st exe
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] || return 1
	if [ -n "$want" ]; then
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
		exe=${exe% (deleted)}
		[ "$(basename "$exe")" = "$want" ] || return 1
	fi
	return 0
}

# apx_wait_gone PID SECONDS: wait until PID is gone; 1 on time-out.
apx_wait_gone() {
	local pid=$1 i=0 n=$(($2 * 10))
	while apx_proc_alive "$pid"; do
		[ "$i" -ge "$n" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# apx_clean_env CMD...: run CMD without any APX_* variable of the caller
# (each would override a config key of the app, see docs/contract.md).
# apx_env_unset_args fills APX_ENV_UNSET with the matching `env -u` options,
# for callers that exec.
apx_env_unset_args() {
	local v
	APX_ENV_UNSET=()
	while read -r v; do
		[ -n "$v" ] && APX_ENV_UNSET+=(-u "$v")
	done < <(env | sed -n 's/^\(APX_[A-Za-z0-9_]*\)=.*/\1/p')
}

apx_clean_env() {
	apx_env_unset_args
	env "${APX_ENV_UNSET[@]}" "$@"
}
