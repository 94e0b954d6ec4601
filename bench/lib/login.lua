-- wrk request script of bench/run's login benchmark: POST /api/v1/auth/login
-- with JSON bodies rotating over the bench accounts, and a count of the
-- answers per HTTP status.
--
-- bench/run writes, in front of this file (in a 0600 file of its work
-- directory; the passwords never reach wrk's command line or the output):
--   login_bodies = { [[{"email":"...","password":"..."}]], ... }
-- Every body must be a correct login: failures are throttled (5 per account
-- and address, 30 per address in 15 minutes), and a 429 invalidates the run.
--
-- bench_done() prints one line that bench/run parses:
--   BENCH_STATUS 200=812 429=3
-- (wrk itself counts only statuses > 399, as one number.)

local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("thread_no", nthreads)
	table.insert(threads, thread)
end

function init(args)
	statuses = {}
	login_headers = { ["Content-Type"] = "application/json" }
	-- each thread starts at another account
	login_next = (thread_no - 1) % #login_bodies
end

function request()
	login_next = login_next % #login_bodies + 1
	return wrk.format("POST", "/api/v1/auth/login", login_headers,
	    login_bodies[login_next])
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function bench_done(summary, latency, requests)
	local total, codes = {}, {}
	for _, t in ipairs(threads) do
		for code, n in pairs(t:get("statuses") or {}) do
			if total[code] == nil then
				table.insert(codes, code)
			end
			total[code] = (total[code] or 0) + n
		end
	end
	table.sort(codes)
	local parts = {}
	for _, code in ipairs(codes) do
		table.insert(parts, string.format("%d=%d", code, total[code]))
	end
	io.write("BENCH_STATUS " .. table.concat(parts, " ") .. "\n")
end
