-- Tenant database: one per organisation (accupredix_t_<slug>), owned by its
-- own role, reachable by nobody else. It holds the org's forecast data.
-- Ids of the control plane (workspaces, users, API keys) are plain numbers
-- here: the control plane is another database, often another server.

REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Timestamps in answers, as the control plane writes them.
CREATE FUNCTION apx_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- An uploaded CSV file, kept as rows so that a data subject's personal
-- fields can be found, sealed and erased one by one.
CREATE TABLE uploads (
	id		bigserial PRIMARY KEY,
	workspace_id	bigint NOT NULL,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	filename	text CHECK (length(filename) <= 255),
	size_bytes	integer NOT NULL CHECK (size_bytes >= 0),
	row_count	integer NOT NULL CHECK (row_count >= 0),
	columns		jsonb NOT NULL,		-- header names, in file order
	personal_columns text[] NOT NULL DEFAULT '{}',
	uploaded_by	bigint,			-- user id, or
	uploaded_by_key	bigint,			-- API key id
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (jsonb_typeof(columns) = 'array')
);
CREATE INDEX uploads_ws ON uploads (workspace_id, id);
CREATE INDEX uploads_created ON uploads (created_at);

-- The file's rows; personal-data columns are not in CELLS but in
-- upload_personal.
CREATE TABLE upload_rows (
	upload_id	bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	row_no		integer NOT NULL CHECK (row_no >= 1),
	cells		jsonb NOT NULL CHECK (jsonb_typeof(cells) = 'array'),
	PRIMARY KEY (upload_id, row_no)
);

-- One personal-data field: in VALUE, or sealed (vault record) with a
-- blind index (HMAC) for exact-match lookup.
CREATE TABLE upload_personal (
	upload_id	bigint NOT NULL,
	row_no		integer NOT NULL,
	column_name	text NOT NULL,
	value		text,
	sealed		bytea,
	blind		bytea,
	PRIMARY KEY (upload_id, row_no, column_name),
	FOREIGN KEY (upload_id, row_no) REFERENCES upload_rows
	    ON DELETE CASCADE,
	CHECK ((value IS NULL) <> (sealed IS NULL)),
	CHECK (sealed IS NULL OR blind IS NOT NULL)
);
CREATE INDEX upload_personal_value ON upload_personal (column_name, value)
    WHERE value IS NOT NULL;
CREATE INDEX upload_personal_blind ON upload_personal (column_name, blind)
    WHERE blind IS NOT NULL;

-- A forecast made from an upload: its parameters and the series computed.
CREATE TABLE forecasts (
	id		bigserial PRIMARY KEY,
	workspace_id	bigint NOT NULL,
	upload_id	bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	parameters	jsonb NOT NULL,
	result		jsonb NOT NULL,
	created_by	bigint,
	created_by_key	bigint,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX forecasts_ws ON forecasts (workspace_id, id);
CREATE INDEX forecasts_upload ON forecasts (upload_id);
