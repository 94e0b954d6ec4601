# shellcheck shell=bash
# shellcheck disable=SC2034  # W_* / BEST_* / CMP_RATIO are results for callers
# Helpers shared by bench/run and by the benchmarks it runs.  Sourced, never run.
#
# Conventions
#   - Every figure that is a result goes through `result`, so it is printed as
#     one greppable line and repeated in the summary at the end.
#   - Informational lines go through `say`; problems through `warn`, and a
#     benchmark that cannot produce its figure calls `bench_error`.
#   - Numbers are computed with awk (bash has no floating point).

# Settings, set by bench/run; the defaults here only let the helpers be
# sourced on their own.  BENCH_WORK (a scratch directory for logs and wrk
# scripts) must be set before a helper runs.
: "${DURATION:=10}" "${WRK_THREADS:=2}" "${WRK_CONNECTIONS:=6}" "${WARMUP:=3}" "${ROUNDS:=2}"
: "${BENCH_LIB:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

# ---------------------------------------------------------------- output

SUMMARY=()      # result lines, repeated at the end of the run
ERRORS=0        # benchmarks that could not produce a figure

# Everything goes to stdout, warnings included: the output is the report.
say() { printf '%s\n' "$*"; }
# warn TEXT: printed now and repeated in the summary.
warn() {
	printf 'warning: %s\n' "$*"
	SUMMARY+=("warning: $*")
}
# section TITLE: a heading, with the seconds since bench/run started.
section() { printf '\n== %s == (t+%ds)\n' "$*" "$SECONDS"; }

# result LINE: a figure worth keeping; printed now and again in the summary.
result() {
	printf '%s\n' "$*"
	SUMMARY+=("$*")
}

# bench_error WHAT: a benchmark could not run; reported, and bench/run exits 1.
bench_error() {
	printf 'bench error %s\n' "$*"
	SUMMARY+=("bench error $*")
	ERRORS=$((ERRORS + 1))
}

# fmt FORMAT NUMBER: printf through awk, for floating point values.
fmt() {
	awk -v f="$1" -v x="$2" 'BEGIN { printf f, x }'
}

# ratio A B: A/B with 3 decimals ("n/a" if B is 0 or empty).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'
}

# median X...: the median of the numbers given (the mean of the middle two
# for an even count), 3 decimals.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print "n/a"
		else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# goal_verdict VALUE OP GOAL: prints PASS or "BELOW GOAL" ("n/a" for no value).
# OP is ">=" (higher is better) or "<=" (lower is better).
goal_verdict() {
	awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
		if (v == "n/a" || v == "") { print "n/a"; exit }
		ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0)
		print ok ? "PASS" : "BELOW GOAL" }'
}

# ---------------------------------------------------------------- children

# run_child CMD [ARGS...]: runs a long command (wrk) in the background and
# waits for it, so that SIGINT/SIGTERM reach bench/run's traps at once (bash
# runs a trap only after a foreground child ends, and wrk catches SIGINT and
# exits 0, which would make bash ignore a ^C).  The child's pid is in
# CHILD_PID until it ends; kill_child stops it.
CHILD_PID=""
run_child() {
	local rc=0
	"$@" &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=""
	return "$rc"
}

kill_child() {
	if [ -n "$CHILD_PID" ]; then
		kill "$CHILD_PID" 2>/dev/null || true
		wait "$CHILD_PID" 2>/dev/null || true
		CHILD_PID=""
	fi
}

# ---------------------------------------------------------------- wrk

# wrk_measure [--lua FILE] [--duration S] LABEL URL [extra wrk args...]
#
# Runs wrk (WRK_THREADS threads, WRK_CONNECTIONS connections, DURATION
# seconds unless --duration, --latency) against URL and sets:
#   W_RPS W_P50_MS W_P90_MS W_P99_MS W_MAX_MS W_REQUESTS W_NON2XX W_SOCKERR
#   W_VALID (1 if every response was 2xx/3xx and wrk reported a result)
# Prints one line `run LABEL: ...`.  The raw wrk output is kept in
# $BENCH_WORK/wrk-<n>.log.  Extra args go to wrk before the URL, e.g.
#   wrk_measure me "$BASE_URL/api/v1/me" -H "Authorization: Bearer $tok"
# --lua FILE: a request script (wrk.method, wrk.body, request(), ...);
# the report hook is appended to it.
WRK_SEQ=0
WRK_ARGS_A=()
WRK_ARGS_B=()
wrk_measure() {
	local lua="" dur=$DURATION
	while [ $# -gt 0 ]; do
		case $1 in
		--lua) lua=$2; shift 2 ;;
		--duration) dur=$2; shift 2 ;;
		*) break ;;
		esac
	done
	local label=$1 url=$2
	shift 2
	WRK_SEQ=$((WRK_SEQ + 1))
	local log="$BENCH_WORK/wrk-$WRK_SEQ.log" script="$BENCH_WORK/wrk-$WRK_SEQ.lua"
	# 0600: a request script may hold a token or passwords (login, me)
	(umask 077 && : >"$script")
	if [ -n "$lua" ]; then
		cat "$lua" >>"$script"
		printf '\n' >>"$script"
	fi
	cat "$BENCH_LIB/wrk-report.lua" >>"$script"

	W_RPS=0 W_P50_MS=0 W_P90_MS=0 W_P99_MS=0 W_MAX_MS=0 W_REQUESTS=0
	W_NON2XX=0 W_SOCKERR=0 W_VALID=0
	if ! run_child wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${dur}s" --latency \
	    -s "$script" "$@" "$url" >"$log" 2>&1; then
		warn "wrk failed for $label ($url), see $log:"
		sed 's/^/    /' "$log"
		say "run $label: FAILED (wrk error)"
		return 0
	fi
	local line
	line=$(grep '^BENCH_RESULT ' "$log" | tail -n 1) || true
	if [ -z "$line" ]; then
		say "run $label: FAILED (no result from wrk)"
		return 0
	fi
	# BENCH_RESULT key=value ... -> shell variables, via awk (no eval of input).
	read -r W_REQUESTS W_RPS W_P50_MS W_P90_MS W_P99_MS W_MAX_MS W_NON2XX W_SOCKERR < <(
		awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		printf "%d %.1f %.3f %.3f %.3f %.3f %d %d\n", v["requests"], v["rps"],
		    v["p50_us"] / 1000, v["p90_us"] / 1000, v["p99_us"] / 1000,
		    v["max_us"] / 1000, v["non2xx"],
		    v["err_connect"] + v["err_read"] + v["err_write"] + v["err_timeout"] }' <<<"$line")
	local note=""
	if [ "$W_REQUESTS" -gt 0 ] && [ "$W_NON2XX" -eq 0 ]; then
		W_VALID=1
	else
		note="  INVALID: $W_NON2XX non-2xx responses of $W_REQUESTS"
	fi
	[ "$W_SOCKERR" -eq 0 ] || note="$note  ($W_SOCKERR socket errors)"
	printf 'run %-22s %9s req/s  p50 %7s ms  p99 %8s ms  max %8s ms%s\n' \
	    "$label:" "$(fmt '%.0f' "$W_RPS")" "$(fmt '%.2f' "$W_P50_MS")" \
	    "$(fmt '%.2f' "$W_P99_MS")" "$(fmt '%.1f' "$W_MAX_MS")" "$note"
}

# wrk_warm URL [extra wrk args...]: an unmeasured wrk run of WARMUP seconds
# with WARM_CONNECTIONS connections (default: WRK_CONNECTIONS).
WARM_CONNECTIONS=""
wrk_warm() {
	local url=$1 c=${WARM_CONNECTIONS:-$WRK_CONNECTIONS}
	shift
	run_child wrk -t"$WRK_THREADS" -c"$c" -d"${WARMUP}s" "$@" "$url" \
	    >>"$BENCH_WORK/warmup.log" 2>&1 || warn "warm-up of $url failed (see --keep logs)"
}

# warm_up LABEL EXE URL MIN [extra wrk args...]
#
# Unmeasured wrk runs of WARMUP seconds (wrk_warm) until this stack runs at
# least MIN processes of EXE, at most 2 runs; the count is left in WARM_PROCS.
WARM_PROCS=0
warm_up() {
	local label=$1 exe=$2 url=$3 min=$4 i
	shift 4
	for i in 1 2; do
		wrk_warm "$url" "$@"
		WARM_PROCS=$(count_lines "$(stack_workers "$exe")")
		[ "$WARM_PROCS" -lt "$min" ] || break
	done
	say "warm-up $label: $i x ${WARMUP}s at ${WARM_CONNECTIONS:-$WRK_CONNECTIONS} connections," \
	    "$WARM_PROCS processes of $(basename "$exe")"
}

# count_lines TEXT: number of non-empty lines.
count_lines() { grep -c . <<<"$1" || true; }

# compare_best_of SERVER NAME_A URL_A NAME_B URL_B [GOAL]
#
# The shape of every "X relative to Y" benchmark: alternates A, B, A, B
# (ROUNDS times), keeps the best valid run of each by req/s (its own p50/p99
# with it), prints a table and the line
#   ratio NAME_A/NAME_B SERVER: R (goal >= GOAL) PASS|BELOW GOAL
# (GOAL "-": a reference figure, printed with no verdict), then the ratio
# of each round's A to the B run right after it, and their median:
#   rounds NAME_A/NAME_B SERVER: R1 R2 ... (median M)
# The verdict stays the ratio of the bests; the rounds show how far this
# machine moved the figure while it was measured.
# Extra wrk args for both sides can be given in the arrays WRK_ARGS_A and
# WRK_ARGS_B (e.g. an Authorization header), and a wrk request script for
# either side in WRK_LUA_A / WRK_LUA_B (wrk_measure --lua; e.g. one setting
# wrk.headers, which keeps a token off wrk's command line); all four are
# reset afterwards.  CMP_TAG_B, if set, is appended to B's `rps` line (e.g.
# " (me run)"), so that a path measured again as another benchmark's baseline
# does not repeat an earlier line's key (`rps healthz apache:`); reset too.
# Sets BEST_RPS_A BEST_RPS_B CMP_RATIO for the caller.
WRK_LUA_A=""
WRK_LUA_B=""
CMP_TAG_A=""
CMP_TAG_B=""
compare_best_of() {
	local server=$1 na=$2 ua=$3 nb=$4 ub=$5 goal=${6:-0.9}
	local i this_a
	local -a pairs=()
	local ra=0 a50=0 a99=0 rb=0 b50=0 b99=0 max99=0
	local -a args_a=("${WRK_ARGS_A[@]+"${WRK_ARGS_A[@]}"}")
	local -a args_b=("${WRK_ARGS_B[@]+"${WRK_ARGS_B[@]}"}")
	local -a lua_a=() lua_b=()
	[ -z "$WRK_LUA_A" ] || lua_a=(--lua "$WRK_LUA_A")
	[ -z "$WRK_LUA_B" ] || lua_b=(--lua "$WRK_LUA_B")
	local tag_a=$CMP_TAG_A tag_b=$CMP_TAG_B
	WRK_ARGS_A=() WRK_ARGS_B=() WRK_LUA_A="" WRK_LUA_B="" CMP_TAG_A="" CMP_TAG_B=""

	for ((i = 1; i <= ROUNDS; i++)); do
		wrk_measure "${lua_a[@]+"${lua_a[@]}"}" "$server $na #$i" "$ua" \
		    "${args_a[@]+"${args_a[@]}"}"
		if [ "$W_VALID" = 1 ] && awk -v x="$W_RPS" -v y="$ra" 'BEGIN { exit !(x > y) }'; then
			ra=$W_RPS a50=$W_P50_MS a99=$W_P99_MS
		fi
		max99=$(awk -v x="$W_P99_MS" -v y="$max99" 'BEGIN { print (x > y) ? x : y }')
		this_a=0
		[ "$W_VALID" != 1 ] || this_a=$W_RPS
		wrk_measure "${lua_b[@]+"${lua_b[@]}"}" "$server $nb #$i" "$ub" \
		    "${args_b[@]+"${args_b[@]}"}"
		if [ "$W_VALID" = 1 ] && awk -v x="$W_RPS" -v y="$rb" 'BEGIN { exit !(x > y) }'; then
			rb=$W_RPS b50=$W_P50_MS b99=$W_P99_MS
		fi
		if [ "$W_VALID" = 1 ] && [ "$this_a" != 0 ]; then
			pairs+=("$(ratio "$this_a" "$W_RPS")")
		fi
		max99=$(awk -v x="$W_P99_MS" -v y="$max99" 'BEGIN { print (x > y) ? x : y }')
	done

	BEST_RPS_A=$ra BEST_RPS_B=$rb CMP_RATIO=n/a
	say ""
	printf '%-10s %-10s %10s %10s %10s   (best of %d by req/s)\n' \
	    server path 'req/s' 'p50 ms' 'p99 ms' "$ROUNDS"
	local name rps p50 p99
	for name in "$na" "$nb"; do
		if [ "$name" = "$na" ]; then rps=$ra p50=$a50 p99=$a99; else rps=$rb p50=$b50 p99=$b99; fi
		if [ "$rps" = 0 ]; then
			printf '%-10s %-10s %10s\n' "$server" "$name" "no valid run"
		else
			printf '%-10s %-10s %10s %10s %10s\n' "$server" "$name" \
			    "$(fmt '%.0f' "$rps")" "$(fmt '%.2f' "$p50")" "$(fmt '%.2f' "$p99")"
		fi
	done
	if [ "$ra" = 0 ] || [ "$rb" = 0 ]; then
		bench_error "$na/$nb $server: no valid run for one side (see the run lines above)"
		return 0
	fi
	result "$(printf 'rps %s %s%s: %s  p50 %s ms  p99 %s ms  (wrk -c%s)' "$na" "$server" "$tag_a" \
	    "$(fmt '%.0f' "$ra")" "$(fmt '%.2f' "$a50")" "$(fmt '%.2f' "$a99")" "$WRK_CONNECTIONS")"
	result "$(printf 'rps %s %s%s: %s  p50 %s ms  p99 %s ms  (wrk -c%s)' "$nb" "$server" "$tag_b" \
	    "$(fmt '%.0f' "$rb")" "$(fmt '%.2f' "$b50")" "$(fmt '%.2f' "$b99")" "$WRK_CONNECTIONS")"
	CMP_RATIO=$(ratio "$ra" "$rb")
	if [ "$goal" = - ]; then
		result "ratio $na/$nb $server: $CMP_RATIO (reference, no goal)"
	else
		result "ratio $na/$nb $server: $CMP_RATIO (goal >= $goal) $(goal_verdict "$CMP_RATIO" '>=' "$goal")"
	fi
	if [ "${#pairs[@]}" -gt 0 ]; then
		result "rounds $na/$nb $server: ${pairs[*]} (median $(median "${pairs[@]}"))"
	fi
	if awk -v x="$max99" 'BEGIN { exit !(x >= 900) }'; then
		if [ "${STACK_FASTCGI:-fcgid}" = proxy ]; then
			warn "a p99 near or above 1 s was seen on $server (mod_proxy_fcgi):" \
			    "requests waited for a kept FastCGI connection or a worker:" \
			    "workers being replaced by the app's supervisor (see the" \
			    "workers line), or the machine was busy; req/s and p99" \
			    "then measure that wait more than the program"
		else
			warn "a p99 near or above 1 s was seen on $server: requests found no idle" \
			    "FastCGI process and waited (mod_fcgid polls about once a second):" \
			    "processes still being started or recycled, or the server's process" \
			    "limit per program is below the $WRK_CONNECTIONS wrk connections;" \
			    "req/s and p99 then measure that wait more than the program"
		fi
	fi
}

# ---------------------------------------------------------------- processes

# stack_pids EXE: pids of processes running EXE that belong to the current
# stack: their environment holds the stack's APX_CONFIG, or an ancestor's
# command line names the stack's web server config (WEB_CONF) or STACK_DIR.
# The caller sets APX_CONFIG, WEB_CONF and STACK_DIR from stack.env.  Other
# engineers' stacks running the same binary are not counted.
stack_pids() {
	local exe comm pid p exe_of anc ok
	exe=$(readlink -f "$1")
	comm=$(basename "$exe" | cut -c1-15)
	for pid in $(pgrep -x -- "$comm" || true); do
		exe_of=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[ "${exe_of% (deleted)}" = "$exe" ] || continue
		ok=0
		if [ -n "${APX_CONFIG:-}" ] &&
		    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "APX_CONFIG=$APX_CONFIG"; then
			ok=1
		else
			p=$pid
			while [ "$ok" = 0 ]; do
				p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ') || break
				if [ -z "$p" ] || [ "$p" -le 1 ]; then break; fi
				anc=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || break
				case $anc in
				*"${WEB_CONF:-/nonexistent/}"* | *"${STACK_DIR:-/nonexistent/}"*) ok=1 ;;
				esac
			done
		fi
		[ "$ok" = 1 ] && printf '%s\n' "$pid"
	done
	return 0
}

# stack_workers EXE: stack_pids EXE without the app's supervisor
# (STACK_SUPERVISOR_PID, set by bench/run when the stack runs the app
# standalone behind mod_proxy_fcgi): the processes that serve requests.
# Under mod_fcgid and lighttpd every process of EXE is a worker.
stack_workers() {
	local pid
	for pid in $(stack_pids "$1"); do
		[ "$pid" = "${STACK_SUPERVISOR_PID:-}" ] || printf '%s\n' "$pid"
	done
	return 0
}

# mem_rollup PID: prints "RSS_KIB PSS_KIB PRIVATE_DIRTY_KIB" from smaps_rollup.
mem_rollup() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 }
	    END { if (r == "") exit 1; print r, p, d }' "/proc/$1/smaps_rollup"
}

# ---------------------------------------------------------------- misc

# http_status URL [curl args...]: prints the HTTP status (000 on no answer).
http_status() {
	local url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true
}

# wait_http_ok URL SECONDS: waits until URL answers 200.
wait_http_ok() {
	local url=$1 deadline=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(http_status "$url")" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
