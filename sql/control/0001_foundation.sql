-- Foundation of the control-plane database: platform settings and the
-- metric counters that workers aggregate into (shared state lives here).

CREATE TABLE platform_settings (
	key		text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
	value		jsonb NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE metric_counters (
	name		text NOT NULL,
	labels		text NOT NULL,
	grp		text NOT NULL,
	ord		integer NOT NULL DEFAULT 0,
	value		double precision NOT NULL DEFAULT 0,
	PRIMARY KEY (name, labels)
);
