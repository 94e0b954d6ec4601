-- apx_ts is STABLE (to_char is), so PostgreSQL puts its body into the
-- query that calls it instead of running a separate SQL function executor
-- per statement (control migration 0021 says more).
ALTER FUNCTION apx_ts(timestamptz) STABLE;
