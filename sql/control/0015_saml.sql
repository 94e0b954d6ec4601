-- SAML 2.0 for an Agency org's SSO (docs/api.md "SAML"): the same org_sso
-- row holds either an OpenID provider or a SAML IdP, and each assertion a
-- SAML sign-in consumed is kept until it expires so that none is used twice.

ALTER TABLE org_sso DROP CONSTRAINT org_sso_protocol_check;
ALTER TABLE org_sso ADD CONSTRAINT org_sso_protocol_check
    CHECK (protocol IN ('oidc', 'saml'));
ALTER TABLE org_sso ALTER COLUMN issuer DROP NOT NULL,
    ALTER COLUMN discovery_url DROP NOT NULL,
    ALTER COLUMN client_id DROP NOT NULL,
    ALTER COLUMN scopes DROP NOT NULL,
    ALTER COLUMN algorithms DROP NOT NULL;
-- The IdP's entity id, its HTTP-Redirect SSO URL, its signing
-- certificates (PEM, public: two during a rotation) and which attributes
-- hold the email and the display name.
ALTER TABLE org_sso ADD COLUMN idp_entity_id text
	    CHECK (length(idp_entity_id) BETWEEN 1 AND 1024),
    ADD COLUMN idp_sso_url text CHECK (length(idp_sso_url) BETWEEN 8 AND 2048),
    ADD COLUMN idp_certs text[] CHECK (cardinality(idp_certs) BETWEEN 1 AND 2),
    ADD COLUMN attr_email text CHECK (length(attr_email) BETWEEN 1 AND 256),
    ADD COLUMN attr_name text CHECK (length(attr_name) BETWEEN 1 AND 256);
ALTER TABLE org_sso ADD CONSTRAINT org_sso_fields CHECK (
    (protocol = 'oidc' AND issuer IS NOT NULL AND discovery_url IS NOT NULL
	AND client_id IS NOT NULL AND scopes IS NOT NULL
	AND algorithms IS NOT NULL) OR
    (protocol = 'saml' AND idp_entity_id IS NOT NULL
	AND idp_sso_url IS NOT NULL AND idp_certs IS NOT NULL));

-- Assertion IDs consumed, per org, until their NotOnOrAfter (purged as new
-- ones come in). The primary key makes a replay fail even when two
-- workers take the same assertion at the same moment.
CREATE TABLE saml_assertions (
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	assertion_id	text NOT NULL CHECK (length(assertion_id) BETWEEN 1 AND 256),
	expires_at	timestamptz NOT NULL,
	PRIMARY KEY (org_id, assertion_id)
);
CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);

-- A SAML identity is (IdP entity id, NameID), made by an org's IdP.
ALTER TABLE user_identities DROP CONSTRAINT user_identities_provider_check;
ALTER TABLE user_identities ADD CONSTRAINT user_identities_provider_check
    CHECK (provider IN ('google', 'microsoft', 'oidc', 'saml'));
ALTER TABLE user_identities DROP CONSTRAINT user_identities_check;
ALTER TABLE user_identities ADD CONSTRAINT user_identities_org_check
    CHECK ((provider IN ('oidc', 'saml')) = (org_id IS NOT NULL));

-- An org's IdP speaks only for that org: its identities are (org, issuer,
-- subject), so that no org can claim another org's IdP (an entity id or
-- issuer is only a name its admins type) and sign in that IdP's users.
-- Google's and Microsoft's, configured by the operator, stay global.
ALTER TABLE user_identities DROP CONSTRAINT user_identities_issuer_subject_key;
CREATE UNIQUE INDEX user_identities_global ON user_identities (issuer, subject)
    WHERE org_id IS NULL;
CREATE UNIQUE INDEX user_identities_org ON user_identities (org_id, issuer, subject)
    WHERE org_id IS NOT NULL;
