-- The compliance sheet (src/routes/compliance.c; docs/api.md "Platform
-- admin"): the platform's data processing agreements and subprocessors,
-- for security reviewers and auditors. Superusers keep it through
-- /admin/api/compliance; every change is in the platform audit log.
-- The API checks each field first (422 naming it); these checks are the
-- same bounds, so that no other writer can store more.

-- 1 to 32 categories of 1 to 100 characters each, none NULL.
CREATE FUNCTION compliance_categories_ok(c text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT cardinality(c) BETWEEN 1 AND 32 AND
	    array_position(c, NULL) IS NULL AND
	    (SELECT bool_and(length(e) BETWEEN 1 AND 100) FROM unnest(c) e)
$$;

CREATE TABLE compliance_items (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('dpa', 'subprocessor')),
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	purpose		text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 1000),
	data_categories	text[] NOT NULL
			    CHECK (compliance_categories_ok(data_categories)),
	region		text NOT NULL CHECK (length(region) BETWEEN 1 AND 100),
	dpa_signed	date,
	review_due	date NOT NULL,
	-- a link to the signed document (https only, no user:password@)
	document_url	text CHECK (length(document_url) <= 2048 AND
			    document_url ~ '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	bigint REFERENCES users (id) ON DELETE SET NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX compliance_items_review_due ON compliance_items (review_due);
