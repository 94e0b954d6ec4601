-- Privacy: audit entries whose personal fields can be erased without
-- breaking their log's hash chain, and organisations that are being or
-- have been erased.
--
-- From this version on (hash_version 2) a row's hash covers the SHA-256 of
-- each personal field (actor_id, target, client_addr, before, after)
-- rather than the field itself. Erasing a field replaces it by '[erased]'
-- and keeps its digest in `erased`, so `audit verify` still checks every
-- row. Rows written before (hash_version 1) cannot be erased.

ALTER TABLE audit_log ADD COLUMN hash_version smallint NOT NULL DEFAULT 1
    CHECK (hash_version IN (1, 2));
ALTER TABLE audit_log ADD COLUMN erased jsonb;

CREATE FUNCTION audit_field(a audit_log, name text, v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(a.erased->>name,
	    encode(sha256(convert_to(v, 'UTF8')), 'hex'))
$$;

CREATE OR REPLACE FUNCTION audit_digest(prev bytea, a audit_log)
RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN a.hash_version = 1 THEN
	    sha256(prev || convert_to(concat_ws(E'\x1f',
	    a.log, a.seq::text,
	    to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
	    a.actor_type, a.actor_id, a.action, a.target, a.client_addr,
	    a.request_id, coalesce(a.before::text, '-'),
	    coalesce(a.after::text, '-')), 'UTF8'))
	ELSE
	    sha256(prev || convert_to(concat_ws(E'\x1f', '2',
	    a.log, a.seq::text,
	    to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
	    a.actor_type, audit_field(a, 'actor_id', a.actor_id), a.action,
	    audit_field(a, 'target', a.target),
	    audit_field(a, 'client_addr', a.client_addr), a.request_id,
	    audit_field(a, 'before', coalesce(a.before::text, '-')),
	    audit_field(a, 'after', coalesce(a.after::text, '-'))), 'UTF8'))
	END
$$;

CREATE OR REPLACE FUNCTION audit_append(p_log text, p_actor_type text,
    p_actor_id text, p_action text, p_target text, p_addr text, p_rid text,
    p_before jsonb, p_after jsonb) RETURNS bigint
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
	r.hash_version := 2;
	r.prev_hash := prev;
	r.hash := audit_digest(prev, r);
	INSERT INTO audit_log (log, seq, at, actor_type, actor_id, action,
	    target, client_addr, request_id, before, after, hash_version,
	    prev_hash, hash)
	VALUES (r.log, r.seq, r.at, r.actor_type, r.actor_id, r.action,
	    r.target, r.client_addr, r.request_id, r.before, r.after,
	    r.hash_version, r.prev_hash, r.hash)
	RETURNING id INTO r.id;
	RETURN r.id;
END
$$;

-- The one change an audit row accepts: erasing personal fields of a
-- version-2 row through audit_erase(), which marks its transaction.
CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	f text;
BEGIN
	IF TG_OP = 'UPDATE' AND
	    current_setting('apx.audit_erasing', true) = 'on' AND
	    OLD.hash_version = 2 AND
	    (NEW.id, NEW.log, NEW.seq, NEW.at, NEW.actor_type, NEW.action,
	    NEW.request_id, NEW.hash_version, NEW.prev_hash, NEW.hash) IS NOT
	    DISTINCT FROM (OLD.id, OLD.log, OLD.seq, OLD.at, OLD.actor_type,
	    OLD.action, OLD.request_id, OLD.hash_version, OLD.prev_hash,
	    OLD.hash) AND
	    audit_digest(NEW.prev_hash, NEW) = OLD.hash THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;

-- Erase FIELDS (of actor_id, target, client_addr, before, after) of the
-- rows of P_LOG whose ids are P_IDS. Runs as the schema owner (the
-- application may not UPDATE audit_log). Returns the rows changed.
CREATE FUNCTION audit_erase(p_log text, p_ids bigint[], p_fields text[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	n bigint;
	f text;
BEGIN
	FOREACH f IN ARRAY p_fields LOOP
		IF f NOT IN ('actor_id', 'target', 'client_addr', 'before',
		    'after') THEN
			RAISE EXCEPTION 'audit_erase: % is not erasable', f;
		END IF;
	END LOOP;
	PERFORM set_config('apx.audit_erasing', 'on', true);
	UPDATE audit_log a SET
	    erased = coalesce(a.erased, '{}'::jsonb) || jsonb_strip_nulls(
	    jsonb_build_object(
	    'actor_id', CASE WHEN 'actor_id' = ANY (p_fields) AND
	     a.erased->>'actor_id' IS NULL THEN encode(sha256(convert_to(
	     a.actor_id, 'UTF8')), 'hex') END,
	    'target', CASE WHEN 'target' = ANY (p_fields) AND
	     a.erased->>'target' IS NULL THEN encode(sha256(convert_to(
	     a.target, 'UTF8')), 'hex') END,
	    'client_addr', CASE WHEN 'client_addr' = ANY (p_fields) AND
	     a.erased->>'client_addr' IS NULL THEN encode(sha256(convert_to(
	     a.client_addr, 'UTF8')), 'hex') END,
	    'before', CASE WHEN 'before' = ANY (p_fields) AND
	     a.erased->>'before' IS NULL THEN encode(sha256(convert_to(
	     coalesce(a.before::text, '-'), 'UTF8')), 'hex') END,
	    'after', CASE WHEN 'after' = ANY (p_fields) AND
	     a.erased->>'after' IS NULL THEN encode(sha256(convert_to(
	     coalesce(a.after::text, '-'), 'UTF8')), 'hex') END)),
	    actor_id = CASE WHEN 'actor_id' = ANY (p_fields) THEN '[erased]'
	     ELSE a.actor_id END,
	    target = CASE WHEN 'target' = ANY (p_fields) THEN '[erased]'
	     ELSE a.target END,
	    client_addr = CASE WHEN 'client_addr' = ANY (p_fields) THEN
	     '[erased]' ELSE a.client_addr END,
	    before = CASE WHEN 'before' = ANY (p_fields) AND a.before IS NOT
	     NULL THEN '"[erased]"'::jsonb ELSE a.before END,
	    after = CASE WHEN 'after' = ANY (p_fields) AND a.after IS NOT NULL
	     THEN '"[erased]"'::jsonb ELSE a.after END
	WHERE a.log = p_log AND a.id = ANY (p_ids) AND a.hash_version = 2;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('apx.audit_erasing', 'off', true);
	RETURN n;
END
$$;

-- An org being erased answers 404 to everyone but its erasure; an erased
-- one is a tombstone that keeps its slug and its audit log.
ALTER TABLE orgs ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'erasing', 'erased'));
