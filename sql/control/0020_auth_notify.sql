-- What empties the workers' authentication cache (src/auth/authcache.h):
-- every statement that changes a row an authenticated request reads --
-- a session's end, a user, a membership, an org's plan, settings or
-- status, a workspace, an IP allowlist, an API key -- sends NOTIFY
-- apx_auth, delivered at commit to every worker's connection. Writes that
-- no request checks (a session's or key's last use, new sessions, audit
-- rows) send nothing. Statement triggers: one notification per statement,
-- and PostgreSQL folds the same notification within a transaction.

CREATE FUNCTION apx_auth_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('apx_auth', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER auth_changed_upd AFTER UPDATE OF user_id, expires_at,
    revoked_at, amr ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
CREATE TRIGGER auth_changed_del AFTER DELETE OR TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed_upd AFTER UPDATE OF email, name, password_hash,
    is_superuser, password_changed_at, email_verified_at ON users
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
CREATE TRIGGER auth_changed_del AFTER DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed_upd AFTER UPDATE OF slug, name, plan, region,
    settings, status ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
CREATE TRIGGER auth_changed_del AFTER INSERT OR DELETE OR TRUNCATE ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed_upd AFTER UPDATE OF org_id ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
CREATE TRIGGER auth_changed_del AFTER INSERT OR DELETE OR TRUNCATE
    ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON workspace_ip_allowlists
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();

CREATE TRIGGER auth_changed_upd AFTER UPDATE OF org_id, prefix, secret_hash,
    previous_hash, previous_valid_until, role, workspace_id, created_by,
    rotated_by, expires_at, revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
CREATE TRIGGER auth_changed_del AFTER DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION apx_auth_changed();
