-- Accounts, sessions (refresh-token families), login throttling and the
-- public halves of the JWT signing keys.

CREATE TABLE users (
	id			bigserial PRIMARY KEY,
	email			text NOT NULL,
	email_norm		text NOT NULL UNIQUE,
	name			text NOT NULL,
	password_hash		text,
	is_superuser		boolean NOT NULL DEFAULT false,
	created_at		timestamptz NOT NULL DEFAULT now(),
	password_changed_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (email_norm = lower(email_norm))
);

-- A session is one refresh-token family: every refresh spends a token and
-- creates its successor; spending a spent token revokes the family.
CREATE TABLE sessions (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	revoked_reason	text,
	user_agent	text NOT NULL DEFAULT '',
	client_addr	text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
	id		bigserial PRIMARY KEY,
	session_id	bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	created_at	timestamptz NOT NULL DEFAULT now(),
	spent_at	timestamptz
);

-- Failed logins per scope ("acct_addr", "addr") and key, in fixed windows.
CREATE TABLE auth_throttle (
	scope		text NOT NULL,
	key		text NOT NULL,
	window_start	timestamptz NOT NULL,
	failures	integer NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, key)
);

-- Public keys of the access-token signing keys; the private halves stay in
-- jwt.key_dir (until the vault holds them).
CREATE TABLE jwt_keys (
	kid		text PRIMARY KEY,
	public_pem	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	retired_at	timestamptz
);
