-- Events a connector plugin emits (host->emit) into the org's own
-- database: what it saw at its provider, for the data features to build
-- on. The payload is JSON text the plugin made; secrets never go here.
CREATE TABLE connector_events (
	id		bigserial PRIMARY KEY,
	connector	text NOT NULL CHECK (connector ~ '^[a-z][a-z0-9_]{0,31}$'),
	connection_id	bigint,
	type		text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_./]{0,63}$'),
	payload		jsonb NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connector_events_conn ON connector_events (connection_id, id);
