-- AccuPredix: the security headers on every answer lighttpd sends, run by
-- mod_magnet at response start (magnet.attract-response-start-to).
--
-- Why a script and not mod_setenv: lighttpd 1.4.69 makes some answers while
-- it still reads the request's headers (413 for a declared body over
-- server.max-request-size, 400, 431).  mod_setenv adds nothing to those (its
-- per-request state is made later), while mod_magnet's response-start hook
-- runs for every answer.
--
-- A header the answer already has is left alone: the app sets all of these
-- itself.
-- Keep Strict-Transport-Security equal to the app's http.hsts_max_age.

local h = lighty.r.resp_header

-- the pages of www/ (rewritten to /__www/...): scripts, styles and API of
-- this origin only, and revalidated on each load
local page = string.sub(lighty.r.req_attr["uri.path"] or "", 1, 7) == "/__www/"
if page and h["Content-Security-Policy"] == nil then
	h["Content-Security-Policy"] = "default-src 'none'; script-src 'self'; " ..
	    "style-src 'self'; img-src 'self' data:; connect-src 'self'; " ..
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	h["Cache-Control"] = "no-cache"
end

local defaults = {
	{ "Strict-Transport-Security", "max-age=31536000; includeSubDomains" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Content-Security-Policy",
	  "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'" },
	{ "Cross-Origin-Resource-Policy", "same-origin" },
}

for _, kv in ipairs(defaults) do
	if h[kv[1]] == nil then
		h[kv[1]] = kv[2]
	end
end

return 0
