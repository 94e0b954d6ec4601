-- Connector data (src/connect/webhook.c, jobs.c, sync.c): the job queue
-- that does a webhook's work after it was answered and runs syncs, and
-- what a connection shows of its sync.

-- A job: taken by one runner at a time (FOR UPDATE SKIP LOCKED) for a
-- lease; a runner that dies leaves the lease to run out and another one
-- takes the job again. Done jobs are deleted; a job that failed
-- max_attempts times stays, dead, for an operator to see.
CREATE TABLE jobs (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('webhook', 'sync')),
	org_id		bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	connection_id	bigint REFERENCES connections (id) ON DELETE CASCADE,
	dedup		text NOT NULL CHECK (length(dedup) BETWEEN 1 AND 400),
	payload		jsonb NOT NULL DEFAULT '{}',
	run_at		timestamptz NOT NULL DEFAULT now(),
	attempts	integer NOT NULL DEFAULT 0,
	locked_until	timestamptz,
	last_error	text CHECK (length(last_error) <= 200),
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (org_id, kind, dedup)
);
CREATE INDEX jobs_due ON jobs (run_at, id);

-- The workspace a connection's daily sales series goes to (NULL: the
-- org's first workspace), and its sync as the API shows it.
ALTER TABLE connections
	ADD COLUMN workspace_id bigint REFERENCES workspaces (id)
	    ON DELETE SET NULL,
	ADD COLUMN sync_state text NOT NULL DEFAULT 'never'
	    CHECK (sync_state IN ('never', 'running', 'ok', 'failed')),
	ADD COLUMN sync_started_at timestamptz,
	ADD COLUMN sync_records bigint NOT NULL DEFAULT 0,
	ADD COLUMN sync_pages bigint NOT NULL DEFAULT 0,
	ADD COLUMN last_sync_at timestamptz,
	ADD COLUMN last_sync_error text CHECK (length(last_sync_error) <= 200);
