-- Verified domains (docs/api.md "Verified domains"): an org claims a DNS
-- domain, publishes the TXT record it is given, and asks to be verified.
-- A verified domain belongs to one org only (the partial unique index); an
-- org's IdP may later sign in only users of its verified domains. The
-- token is public by nature (it is published in DNS), so it is kept as is.
CREATE TABLE org_domains (
	id		bigserial PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	domain		text NOT NULL CHECK (length(domain) BETWEEN 3 AND 253
			    AND domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$'),
	token		text NOT NULL CHECK (token ~ '^[A-Za-z0-9_-]{32,64}$'),
	created_by	bigint REFERENCES users (id) ON DELETE SET NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	verified_at	timestamptz,
	checked_at	timestamptz,
	last_error	text CHECK (length(last_error) <= 200),
	UNIQUE (org_id, domain)
);
CREATE UNIQUE INDEX org_domains_verified ON org_domains (domain)
    WHERE verified_at IS NOT NULL;
