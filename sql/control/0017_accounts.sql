-- The account lifecycle (src/auth/mail.c, src/routes/account.c): verified
-- email addresses, single-use account tokens, the mail outbox, the
-- networks and devices an account has signed in from, the per-account
-- login delay and the grace of a refresh token another tab has spent.

-- NULL until the owner of the address proves it (a link mailed to it, or
-- a provider that vouches for it). Accounts made before verification
-- existed count as verified: nobody asked them.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;

-- Email verification and password reset: only SHA-256 of the token is
-- kept; a token is spent once (used_at) and dies at expires_at.
CREATE TABLE account_tokens (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose		text NOT NULL CHECK (purpose IN ('verify', 'reset')),
	token_hash	bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL,
	used_at		timestamptz
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

-- The outbox: a request queues a mail in its own transaction and the
-- sender (accupredix-admin mail send) delivers it, so a slow relay never
-- holds a request. What the template needs (links with their tokens
-- included) is sealed by the vault for the mail's Message-ID, and dropped
-- once the mail is sent. A mail is taken for a lease (FOR UPDATE SKIP
-- LOCKED); a failure waits longer each time.
CREATE TABLE mail_outbox (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
	user_id		bigint REFERENCES users (id) ON DELETE CASCADE,
	to_addr		text NOT NULL CHECK (length(to_addr) BETWEEN 3 AND 254),
	message_id	text NOT NULL UNIQUE CHECK (length(message_id) <= 200),
	sealed		bytea,
	created_at	timestamptz NOT NULL DEFAULT now(),
	send_after	timestamptz NOT NULL DEFAULT now(),
	attempts	integer NOT NULL DEFAULT 0,
	locked_until	timestamptz,
	last_error	text CHECK (length(last_error) <= 200),
	sent_at		timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (send_after, id)
    WHERE sent_at IS NULL;

-- Where an account has signed in from: a network (an IPv4 address, an
-- IPv6 /64) or a device (SHA-256 of the User-Agent). A sign-in from
-- neither is told to the owner; a network here is never slowed by the
-- per-account login delay.
CREATE TABLE user_known (
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind		text NOT NULL CHECK (kind IN ('net', 'agent')),
	value		text NOT NULL CHECK (length(value) <= 100),
	first_at	timestamptz NOT NULL DEFAULT now(),
	last_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, kind, value)
);

-- The last failure of a throttle key (the per-account delay grows from it).
ALTER TABLE auth_throttle ADD COLUMN last_at timestamptz;

-- A second tab that refreshes with the token the first tab just spent gets
-- the same successor: it is kept sealed under a key derived from the spent
-- token, which only its holder has, for a few seconds.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea;

-- Invitations are mailed; an inviter may send one again.
ALTER TABLE invitations
	ADD COLUMN mailed_at timestamptz,
	ADD COLUMN mail_count integer NOT NULL DEFAULT 0;
