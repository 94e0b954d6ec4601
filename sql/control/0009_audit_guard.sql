-- Audit guard: the application role can neither write an audit entry
-- other than through audit_append() nor erase what it likes.
--
-- * audit_append() runs as the schema owner (SECURITY DEFINER), so that
--   the application role needs no INSERT on audit_log: every entry is the
--   next link of its chain, computed here. `accupredix-admin migrate`
--   revokes INSERT on audit_log (and any change of audit_erasures) from
--   db.app_role and grants it EXECUTE on the three functions it may call
--   (src/store/migrate.c); PUBLIC may call none of them.
-- * audit_erase() (any log, rows and fields) stays the owner's own tool.
--   The application erases personal fields only for an erasure request
--   recorded in its own transaction: audit_erasure_record() checks the
--   request (an org being erased, an existing account; the fields are
--   among target, client_addr, before and after -- never actor_id) and
--   audit_erasure_apply() erases exactly the rows and fields the record
--   names. A deferred check refuses the commit unless the subject is gone
--   by then (the org erased, the account deleted).

ALTER FUNCTION audit_append(text, text, text, text, text, text, text, jsonb,
    jsonb) SECURITY DEFINER SET search_path = public;
REVOKE EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text,
    text, jsonb, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_erase(text, bigint[], text[]) FROM PUBLIC;

CREATE TABLE audit_erasures (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('org', 'account')),
	-- orgs.id or users.id (no reference: the account row goes)
	subject		bigint NOT NULL CHECK (subject > 0),
	-- org: its log; account: every log that names the account
	log		text CHECK ((kind = 'org') = (log IS NOT NULL) AND
			    (log IS NULL OR log ~ '^org:[0-9]+$')),
	fields		text[] NOT NULL CHECK (cardinality(fields) > 0 AND
			    fields <@ ARRAY['target', 'client_addr', 'before',
			    'after']),
	xact		xid8 NOT NULL DEFAULT pg_current_xact_id(),
	requested_at	timestamptz NOT NULL DEFAULT now(),
	applied_at	timestamptz
);

-- Record the erasure of FIELDS for KIND 'org' (SUBJECT an org whose
-- erasure has begun: status 'erasing') or 'account' (SUBJECT an existing
-- user). Returns the request's id, valid in this transaction only.
CREATE FUNCTION audit_erasure_record(p_kind text, p_subject bigint,
    p_fields text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	r bigint;
BEGIN
	IF p_fields IS NULL OR cardinality(p_fields) = 0 OR
	    array_position(p_fields, NULL) IS NOT NULL OR
	    NOT p_fields <@ ARRAY['target', 'client_addr', 'before', 'after']
	    THEN
		RAISE EXCEPTION 'audit_erasure_record: only target, '
		    'client_addr, before and after can be erased'
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF p_kind = 'org' THEN
		PERFORM 1 FROM orgs WHERE id = p_subject AND status = 'erasing';
	ELSIF p_kind = 'account' THEN
		PERFORM 1 FROM users WHERE id = p_subject;
	END IF;
	IF NOT FOUND OR p_kind IS NULL OR p_kind NOT IN ('org', 'account')
	    THEN
		RAISE EXCEPTION 'audit_erasure_record: no % erasure of % '
		    'under way', p_kind, p_subject
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	INSERT INTO audit_erasures (kind, subject, log, fields)
	VALUES (p_kind, p_subject, CASE WHEN p_kind = 'org' THEN
	    'org:' || p_subject END, p_fields)
	RETURNING id INTO r;
	RETURN r;
END
$$;

-- Erase what request P_REQUEST (recorded in this transaction, not yet
-- applied) names: for an org every entry of its log; for an account the
-- client_addr of its own entries, the target of entries aimed at its
-- e-mail address and the before/after of entries that mention it.
-- Returns the rows changed (a row once per field set).
CREATE FUNCTION audit_erasure_apply(p_request bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
	q audit_erasures;
	email text;
	lg text;
	n bigint := 0;
	ba text[];
BEGIN
	SELECT * INTO q FROM audit_erasures WHERE id = p_request FOR UPDATE;
	IF NOT FOUND OR q.xact <> pg_current_xact_id() OR
	    q.applied_at IS NOT NULL THEN
		RAISE EXCEPTION 'audit_erasure_apply: % is not an erasure '
		    'request recorded in this transaction', p_request
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF q.kind = 'org' THEN
		n := audit_erase(q.log, ARRAY(SELECT a.id FROM audit_log a
		    WHERE a.log = q.log AND a.hash_version = 2), q.fields);
	ELSE
		SELECT email_norm INTO email FROM users WHERE id = q.subject;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'audit_erasure_apply: account % is gone',
			    q.subject USING ERRCODE = 'insufficient_privilege';
		END IF;
		ba := ARRAY(SELECT f FROM unnest(q.fields) f WHERE f IN
		    ('before', 'after'));
		FOR lg IN SELECT DISTINCT a.log FROM audit_log a WHERE
		    a.hash_version = 2 AND ((a.actor_type = 'user' AND
		    a.actor_id = q.subject::text) OR a.target = email OR
		    strpos(coalesce(a.before::text, '') ||
		    coalesce(a.after::text, ''), email) > 0) LOOP
			IF 'client_addr' = ANY (q.fields) THEN
				n := n + audit_erase(lg, ARRAY(SELECT a.id FROM
				    audit_log a WHERE a.log = lg AND
				    a.actor_type = 'user' AND
				    a.actor_id = q.subject::text),
				    '{client_addr}');
			END IF;
			IF 'target' = ANY (q.fields) THEN
				n := n + audit_erase(lg, ARRAY(SELECT a.id FROM
				    audit_log a WHERE a.log = lg AND
				    a.target = email), '{target}');
			END IF;
			IF cardinality(ba) > 0 THEN
				n := n + audit_erase(lg, ARRAY(SELECT a.id FROM
				    audit_log a WHERE a.log = lg AND strpos(
				    coalesce(a.before::text, '') ||
				    coalesce(a.after::text, ''), email) > 0),
				    ba);
			END IF;
		END LOOP;
	END IF;
	UPDATE audit_erasures SET applied_at = clock_timestamp()
	    WHERE id = q.id;
	RETURN n;
END
$$;

-- At commit: the erasure happened along with the end of its subject.
CREATE FUNCTION audit_erasure_done() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	IF NEW.kind = 'org' AND NOT EXISTS (SELECT 1 FROM orgs WHERE
	    id = NEW.subject AND status = 'erased') OR
	    NEW.kind = 'account' AND EXISTS (SELECT 1 FROM users WHERE
	    id = NEW.subject) THEN
		RAISE EXCEPTION 'audit erasure request %: its % % was not '
		    'erased in the same transaction', NEW.id, NEW.kind,
		    NEW.subject USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_erasures_done AFTER INSERT ON audit_erasures
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION audit_erasure_done();

REVOKE EXECUTE ON FUNCTION audit_erasure_record(text, bigint, text[]),
    audit_erasure_apply(bigint) FROM PUBLIC;
