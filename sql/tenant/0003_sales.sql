-- Connector data in the org's own database: the webhook events its
-- connections received (de-duplicated by the provider's event id), the
-- sales records synced from them, and where each connection's sync
-- stands. No personal data: a sales record is an id, a day, an amount.

CREATE TABLE webhook_events (
	id		bigserial PRIMARY KEY,
	connector	text NOT NULL CHECK (connector ~ '^[a-z][a-z0-9_]{0,31}$'),
	connection_id	bigint NOT NULL,
	event_id	text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 256),
	type		text NOT NULL CHECK (length(type) BETWEEN 1 AND 128),
	account_id	text NOT NULL CHECK (length(account_id) BETWEEN 1 AND 255),
	payload		jsonb NOT NULL,
	received_at	timestamptz NOT NULL DEFAULT now(),
	processed_at	timestamptz,
	outcome		text CHECK (length(outcome) <= 64),
	UNIQUE (connector, connection_id, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);

CREATE TABLE sales_records (
	connection_id	bigint NOT NULL,
	kind		text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
	external_id	text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
	day		date NOT NULL,
	amount		numeric(24, 6) NOT NULL,
	currency	text CHECK (currency ~ '^[A-Z]{3}$'),
	voided		boolean NOT NULL DEFAULT false,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (connection_id, kind, external_id)
);
CREATE INDEX sales_records_day ON sales_records (connection_id, day);

-- A connection's sync: the cursor of the last committed page (or of the
-- last finished run), and the upload that holds its daily series.
CREATE TABLE sync_state (
	connection_id	bigint PRIMARY KEY,
	cursor		text CHECK (length(cursor) <= 1024),
	run_done	boolean NOT NULL DEFAULT false,
	upload_id	bigint REFERENCES uploads (id) ON DELETE SET NULL,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

-- What a provider's privacy requests asked (Shopify's mandatory topics),
-- with what was done: part of the org's privacy export.
CREATE TABLE privacy_requests (
	id		bigserial PRIMARY KEY,
	connector	text NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('export', 'erase', 'forget')),
	subject		jsonb,
	result		jsonb,
	created_at	timestamptz NOT NULL DEFAULT now()
);
