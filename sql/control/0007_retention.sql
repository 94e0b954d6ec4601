-- Retention: how long an org keeps its uploads (and the forecasts made
-- from them), in days; a row with a workspace overrides the org's for that
-- workspace. `POST /internal/retention/run` and `accupredix-admin
-- retention purge` delete what is older in each tenant database.

CREATE TABLE retention_policies (
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	workspace_id	bigint REFERENCES workspaces (id) ON DELETE CASCADE,
	upload_days	integer NOT NULL CHECK (upload_days BETWEEN 1 AND 3650),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX retention_policies_scope
    ON retention_policies (org_id, coalesce(workspace_id, 0));
