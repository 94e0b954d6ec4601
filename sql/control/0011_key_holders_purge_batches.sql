-- API keys act as the person holding their secret: the creator, or the
-- owner who last rotated it (rotated_by). The key is honoured only while
-- both its creator and its holder are members, at its role cap or above
-- it (src/authz/authz.c).
--
-- Retention purge batches: a batch's upload ids are recorded here in the
-- same control-plane transaction as its `retention.purge` audit entry,
-- before anything is deleted in the tenant database; the row goes once the
-- tenant delete has committed. A row left behind (the tenant delete failed
-- or the process died) is finished by the next purge, idempotently.

ALTER TABLE api_keys ADD COLUMN rotated_by bigint REFERENCES users (id)
    ON DELETE CASCADE;

CREATE TABLE retention_batches (
	id		bigserial PRIMARY KEY,
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	upload_ids	bigint[] NOT NULL CHECK (cardinality(upload_ids) > 0),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_batches_org ON retention_batches (org_id, id);
