-- wrk report hook for bench/run: prints one machine-readable line after the
-- run, which bench/lib/common.sh parses (wrk's own text output is kept in the
-- log only).  Latencies are in microseconds.
--
-- A benchmark that needs its own request (method, body, headers built in Lua)
-- writes a script that sets wrk.method / wrk.body / wrk.headers or defines
-- request(), and passes it to wrk_measure with --lua FILE; wrk_measure appends
-- this file to it, so this done() is always the one that runs.  Such a
-- script may define bench_done(summary, latency, requests) to print lines of
-- its own (e.g. bench/lib/login.lua's BENCH_STATUS); it is called first.

done = function(summary, latency, requests)
	if bench_done then
		bench_done(summary, latency, requests)
	end
	local secs = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
	    "BENCH_RESULT requests=%d seconds=%.3f rps=%.2f " ..
	    "p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
	    "non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
	    summary.requests, secs, summary.requests / secs,
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency.max,
	    e.status, e.connect, e.read, e.write, e.timeout))
end
