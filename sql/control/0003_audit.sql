-- Audit logs: one table, one hash chain per log ('platform', later
-- 'org:<id>'). Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE
-- for every role, and the application role is granted SELECT and INSERT
-- only. Each row's hash covers the previous row's hash and every field, so
-- `accupredix-admin audit verify` finds the first row changed or removed.

CREATE TABLE audit_log (
	id		bigserial PRIMARY KEY,
	log		text NOT NULL CHECK (log ~ '^(platform|org:[0-9]+)$'),
	seq		bigint NOT NULL CHECK (seq > 0),
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	actor_type	text NOT NULL CHECK (actor_type IN
			    ('user', 'api_key', 'operator', 'system')),
	actor_id	text NOT NULL,
	action		text NOT NULL,
	target		text NOT NULL DEFAULT '',
	client_addr	text NOT NULL DEFAULT '',
	request_id	text NOT NULL DEFAULT '',
	before		jsonb,
	after		jsonb,
	prev_hash	bytea NOT NULL,
	hash		bytea NOT NULL,
	UNIQUE (log, seq)
);
CREATE INDEX audit_log_at ON audit_log (log, at);

-- The digest of a row given its predecessor's hash: the single definition
-- used to write and to verify.
CREATE FUNCTION audit_digest(prev bytea, a audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT sha256(prev || convert_to(concat_ws(E'\x1f',
	    a.log, a.seq::text,
	    to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
	    a.actor_type, a.actor_id, a.action, a.target, a.client_addr,
	    a.request_id, coalesce(a.before::text, '-'),
	    coalesce(a.after::text, '-')), 'UTF8'))
$$;

-- Append one entry, serialised per log by an advisory lock held until the
-- caller's transaction ends (so the entry commits with the action).
CREATE FUNCTION audit_append(p_log text, p_actor_type text, p_actor_id text,
    p_action text, p_target text, p_addr text, p_rid text, p_before jsonb,
    p_after jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	r audit_log;
	prev bytea;
	last bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('audit:' || p_log));
	SELECT seq, hash INTO last, prev FROM audit_log WHERE log = p_log
	    ORDER BY seq DESC LIMIT 1;
	IF last IS NULL THEN
		last := 0;
		prev := '\x'::bytea;
	END IF;
	r.log := p_log;
	r.seq := last + 1;
	r.at := clock_timestamp();
	r.actor_type := p_actor_type;
	r.actor_id := p_actor_id;
	r.action := p_action;
	r.target := coalesce(p_target, '');
	r.client_addr := coalesce(p_addr, '');
	r.request_id := coalesce(p_rid, '');
	r.before := p_before;
	r.after := p_after;
	r.prev_hash := prev;
	r.hash := audit_digest(prev, r);
	INSERT INTO audit_log (log, seq, at, actor_type, actor_id, action,
	    target, client_addr, request_id, before, after, prev_hash, hash)
	VALUES (r.log, r.seq, r.at, r.actor_type, r.actor_id, r.action,
	    r.target, r.client_addr, r.request_id, r.before, r.after,
	    r.prev_hash, r.hash)
	RETURNING id INTO r.id;
	RETURN r.id;
END
$$;

CREATE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
