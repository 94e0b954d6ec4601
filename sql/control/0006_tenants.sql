-- A database per tenant. Each org's database lives on the PostgreSQL
-- server of its region (regions.<name>.conninfo) and is reached only as
-- the org's own role, whose password the vault keeps sealed (owner
-- org:<id>, purpose tenant_db, record <id>).

ALTER TABLE orgs ADD COLUMN tenant_secret bytea;

-- An org being created: its slug and id are taken here (committed) before
-- the tenant database is made, and the row goes in the transaction that
-- writes the org. A row left by a process that died part-way names what
-- `accupredix-admin tenant cleanup` must drop.
CREATE TABLE tenant_provisioning (
	slug		text PRIMARY KEY
			    CHECK (slug ~ '^[a-z0-9][a-z0-9_]{1,40}$'),
	org_id		bigint NOT NULL UNIQUE,
	region		text NOT NULL CHECK (region ~ '^[a-z][a-z0-9-]{0,31}$'),
	tenant_db	text NOT NULL UNIQUE,
	started_at	timestamptz NOT NULL DEFAULT now()
);
