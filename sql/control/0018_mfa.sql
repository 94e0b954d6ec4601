-- The TOTP second factor (src/auth/mfa.c, src/routes/mfa.c; docs/api.md
-- "Second factor") and how each session was signed in, so that an org
-- that requires a second factor or its SSO (org setting require_mfa) can
-- refuse the others.

-- A user's TOTP key: 20 random bytes sealed by the vault (owner
-- "platform", purpose "mfa", record the user's id, so that a value moved
-- to another user's row does not open). Unconfirmed until the first
-- code; last_step is the last time step a code was accepted for: neither
-- it nor any step before it is accepted again.
CREATE TABLE user_mfa (
	user_id		bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret_sealed	bytea NOT NULL CHECK (length(secret_sealed) <= 1024),
	created_at	timestamptz NOT NULL DEFAULT now(),
	confirmed_at	timestamptz,
	last_step	bigint
);

-- Ten single-use recovery codes per confirmed enrolment: only SHA-256 of
-- each (80 random bits) is kept.
CREATE TABLE mfa_recovery_codes (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash	bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
	created_at	timestamptz NOT NULL DEFAULT now(),
	used_at		timestamptz
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

-- "Second factor needed": what a right password (or a Google/Microsoft
-- sign-in) of an account with a confirmed second factor gets instead of a
-- session. SHA-256 of the token only; five minutes, five wrong codes,
-- spent once. AMR is how the first factor was given ('pwd', 'oidc').
CREATE TABLE mfa_challenges (
	id		bigserial PRIMARY KEY,
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	amr		text NOT NULL CHECK (amr IN ('pwd', 'oidc')),
	user_agent	text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256),
	client_addr	text NOT NULL DEFAULT '',
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	used_at		timestamptz
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

-- How a session was signed in: 'pwd' or 'oidc' (Google, Microsoft),
-- either with '+otp' after a second factor, or 'sso:<org id>' (an org's
-- own IdP). Sessions older than this column were one factor.
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd'
	CHECK (amr IN ('pwd', 'oidc', 'pwd+otp', 'oidc+otp') OR
	    amr ~ '^sso:[0-9]{1,19}$');
