-- Organisations, memberships and roles, invitations, workspaces with their
-- IP allowlists, API keys and impersonation grants. Role and plan names are
-- the ones of src/authz/perm.c.

CREATE TABLE orgs (
	id		bigserial PRIMARY KEY,
	slug		text NOT NULL UNIQUE
			    CHECK (slug ~ '^[a-z0-9][a-z0-9_]{1,40}$'),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	plan		text NOT NULL DEFAULT 'free'
			    CHECK (plan IN ('free', 'growth', 'agency')),
	region		text NOT NULL DEFAULT 'eu'
			    CHECK (region ~ '^[a-z][a-z0-9-]{0,31}$'),
	tenant_db	text NOT NULL UNIQUE,
	settings	jsonb NOT NULL DEFAULT '{}',
	created_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role		text NOT NULL
			    CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- An invitation is spent once: accepted_at or revoked_at ends it.
CREATE TABLE invitations (
	id		bigserial PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	email_norm	text NOT NULL,
	role		text NOT NULL
			    CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	invited_by	bigint REFERENCES users (id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	accepted_at	timestamptz,
	accepted_by	bigint REFERENCES users (id) ON DELETE SET NULL,
	revoked_at	timestamptz
);
CREATE INDEX invitations_org ON invitations (org_id);

CREATE TABLE workspaces (
	id		bigserial PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (org_id, name)
);

-- Canonical CIDR text (validated by the application); empty = no limit.
CREATE TABLE workspace_ip_allowlists (
	workspace_id	bigint NOT NULL REFERENCES workspaces (id)
			    ON DELETE CASCADE,
	cidr		text NOT NULL CHECK (length(cidr) BETWEEN 4 AND 49),
	PRIMARY KEY (workspace_id, cidr)
);

-- The key text is never stored: prefix (to find the row) and the SHA-256
-- of the whole key. After a rotation the previous hash stays valid until
-- previous_valid_until.
CREATE TABLE api_keys (
	id			bigserial PRIMARY KEY,
	org_id			bigint NOT NULL REFERENCES orgs (id)
				    ON DELETE CASCADE,
	prefix			text NOT NULL UNIQUE
				    CHECK (prefix ~ '^[a-z2-7]{12}$'),
	secret_hash		bytea NOT NULL CHECK (length(secret_hash) = 32),
	previous_hash		bytea CHECK (length(previous_hash) = 32),
	previous_valid_until	timestamptz,
	name			text NOT NULL
				    CHECK (length(name) BETWEEN 1 AND 100),
	role			text NOT NULL
				    CHECK (role IN ('admin', 'analyst', 'viewer')),
	workspace_id		bigint REFERENCES workspaces (id)
				    ON DELETE CASCADE,
	created_by		bigint NOT NULL REFERENCES users (id)
				    ON DELETE CASCADE,
	created_at		timestamptz NOT NULL DEFAULT now(),
	rotated_at		timestamptz,
	expires_at		timestamptz,
	last_used_at		timestamptz,
	revoked_at		timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id);

-- A platform operator acting as a user, read-only, for a short time.
CREATE TABLE impersonations (
	id		bigserial PRIMARY KEY,
	operator_id	bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	reason		text NOT NULL,
	started_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	ended_at	timestamptz
);

CREATE INDEX users_created ON users (created_at, id);

-- RFC 3339 UTC text of a time, the one format of every API answer.
CREATE FUNCTION apx_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
