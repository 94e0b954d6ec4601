-- Sign-in through OpenID Connect (docs/api.md "Sign-in with Google,
-- Microsoft and SSO"): an Agency org's own IdP, and the identities that
-- sign people in besides their password.

-- An org's SSO configuration (PUT /api/v1/orgs/{org}/sso). The client
-- secret is a vault record (owner "org:<id>", purpose "sso", record
-- "oidc-client-secret"), answered as set/unset only.
CREATE TABLE org_sso (
	org_id		bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
	protocol	text NOT NULL CHECK (protocol IN ('oidc')),
	enabled		boolean NOT NULL DEFAULT true,
	issuer		text NOT NULL CHECK (length(issuer) BETWEEN 8 AND 2048),
	discovery_url	text NOT NULL CHECK (length(discovery_url) BETWEEN 8 AND 2048),
	client_id	text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
	client_secret	bytea,
	scopes		text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 10
			    AND 'openid' = ANY (scopes)),
	algorithms	text[] NOT NULL CHECK (cardinality(algorithms) BETWEEN 1 AND 3
			    AND algorithms <@ ARRAY['RS256', 'PS256', 'ES256']),
	jit		boolean NOT NULL DEFAULT false,
	default_role	text NOT NULL DEFAULT 'viewer'
			    CHECK (default_role IN ('viewer', 'analyst', 'admin')),
	enforce		boolean NOT NULL DEFAULT false,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	bigint REFERENCES users (id) ON DELETE SET NULL
);

-- A way to sign in that is not the password: keyed by (issuer, subject),
-- never by email. Microsoft's subject is the oid and its issuer names the
-- tenant (tid), so the key is (tid, oid). ORG_ID is the org whose IdP
-- made it (provider 'oidc').
CREATE TABLE user_identities (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	provider	text NOT NULL CHECK (provider IN ('google', 'microsoft', 'oidc')),
	org_id		bigint REFERENCES orgs (id) ON DELETE CASCADE,
	issuer		text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
	subject		text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz,
	UNIQUE (issuer, subject),
	CHECK ((provider = 'oidc') = (org_id IS NOT NULL))
);
CREATE INDEX user_identities_user ON user_identities (user_id);
