-- Connectors: the OAuth state store, per-org connector settings, the
-- connections an org made to its stores and ledgers, and the vault slots
-- a connector plugin keeps for itself (src/connect/, DESIGN §5).
--
-- Every secret here is a vault record (src/vault/): sealed for its owner
-- ("org:<id>", or "platform" for a state's data), a purpose naming the
-- connector and a record naming the row, so a value copied to another
-- row, org or connector does not open.

-- Vault purposes name the connector ("connector:<name>", names of up to
-- 32 characters) and the OAuth state store ("oauth-state").
ALTER TABLE vault_data_keys DROP CONSTRAINT vault_data_keys_purpose_check;
ALTER TABLE vault_data_keys ADD CONSTRAINT vault_data_keys_purpose_check
    CHECK (purpose ~ '^[a-z][a-z0-9_:-]{0,63}$');

-- OAuth state: the hash of the state value (the value itself travels only
-- in the browser's redirect), the hash of the browser's binding cookie,
-- who asked and for what. Consumed by one DELETE ... RETURNING: single use
-- even under concurrent callbacks.
CREATE TABLE oauth_states (
	state_hash	bytea PRIMARY KEY CHECK (length(state_hash) = 32),
	browser_hash	bytea NOT NULL CHECK (length(browser_hash) = 32),
	purpose		text NOT NULL CHECK (purpose ~ '^[a-z][a-z0-9_.:]{0,95}$'),
	org_id		bigint REFERENCES orgs (id) ON DELETE CASCADE,
	user_id		bigint REFERENCES users (id) ON DELETE CASCADE,
	data		bytea,			-- sealed (PKCE verifier, nonce)
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- Per-org connector settings (PUT .../connectors/{name}/config): a plain
-- value, or a sealed one for a secret field (answered as set/unset only).
CREATE TABLE connector_settings (
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	connector	text NOT NULL CHECK (connector ~ '^[a-z][a-z0-9_]{0,31}$'),
	field		text NOT NULL CHECK (field ~ '^[a-z][a-z0-9_]{0,31}$'),
	value		text CHECK (length(value) <= 4096),
	sealed		bytea,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org_id, connector, field),
	CHECK ((value IS NULL) <> (sealed IS NULL))
);

-- A connection: one grant of one provider to one org. tokens is the
-- sealed JSON {access_token, refresh_token}; it is changed only under the
-- row's lock (SELECT ... FOR UPDATE), so that two workers never both spend
-- one rotating refresh token.
CREATE TABLE connections (
	id		bigserial PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	connector	text NOT NULL CHECK (connector ~ '^[a-z][a-z0-9_]{0,31}$'),
	status		text NOT NULL DEFAULT 'active'
			    CHECK (status IN ('active', 'needs_reauth')),
	scopes		text NOT NULL DEFAULT '' CHECK (length(scopes) <= 2048),
	tokens		bytea,
	access_expires_at timestamptz,
	refresh_expires_at timestamptz,
	last_refresh_at	timestamptz,
	last_error	text CHECK (length(last_error) <= 200),
	created_by	bigint REFERENCES users (id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_org ON connections (org_id, id);

-- The provider accounts a connection reaches (shop domain, realmId, Xero
-- tenantId): how a webhook finds its org(s).
CREATE TABLE connection_accounts (
	connection_id	bigint NOT NULL REFERENCES connections (id)
			    ON DELETE CASCADE,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	connector	text NOT NULL,
	external_id	text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
	name		text CHECK (length(name) <= 255),
	PRIMARY KEY (connection_id, external_id),
	UNIQUE (org_id, connector, external_id)
);
CREATE INDEX connection_accounts_route ON connection_accounts
    (connector, external_id);

-- A plugin's own vault slots (host->vault_put): scoped by the host to the
-- org, the connector and the connection (0: none) of the call.
CREATE TABLE connector_secrets (
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	connector	text NOT NULL CHECK (connector ~ '^[a-z][a-z0-9_]{0,31}$'),
	connection_id	bigint NOT NULL DEFAULT 0,
	slot		text NOT NULL CHECK (slot ~ '^[a-z][a-z0-9_]{0,31}$'),
	sealed		bytea NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org_id, connector, connection_id, slot)
);
