-- The vault's data keys: each is 32 random bytes, stored only wrapped
-- (sealed with AES-256-GCM) by a key-encryption key from the
-- configuration, whose version the row names. One data key per owner
-- ("platform", "org:<id>") and purpose; `accupredix-admin vault rotate`
-- re-wraps rows whose kek_version is not the current one.

CREATE TABLE vault_data_keys (
	id		bigserial PRIMARY KEY,
	owner		text NOT NULL CHECK (owner ~ '^(platform|org:[0-9]+)$'),
	purpose		text NOT NULL CHECK (purpose ~ '^[a-z][a-z0-9_]{0,31}$'),
	kek_version	integer NOT NULL CHECK (kek_version >= 0),
	wrapped		bytea NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	rotated_at	timestamptz,
	UNIQUE (owner, purpose)
);
CREATE INDEX vault_data_keys_kek ON vault_data_keys (kek_version);

-- Access-token signing keys: the private half, sealed by the vault
-- (purpose "jwt", record = kid), next to the public one.
ALTER TABLE jwt_keys ADD COLUMN private_sealed bytea;
