/*
 * Forecast data in a tenant database (sql/tenant/): uploads kept as rows,
 * their personal-data fields apart (upload_personal), and forecasts made
 * from them. Every function takes the org's own database (store/tenant.h)
 * and a workspace id that authz has checked is the org's; rows of another
 * workspace answer as absent. Answers are JSON in the shapes of
 * docs/api.md.
 */
#ifndef APX_STORE_UPLOADS_H
#define APX_STORE_UPLOADS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "store/db.h"

struct apx_db;

#define APX_UPLOAD_LIST_MAX	200

/* Who made something: a user, or an API key (then also its creator). */
struct apx_actor_ids {
	int64_t		 user;
	int64_t		 key;		/* 0: not an API key */
};

struct apx_upload_new {
	int64_t		 id;		/* 0: the next of the sequence */
	int64_t		 ws;
	const char	*name;
	const char	*filename;	/* may be NULL */
	size_t		 size;		/* bytes of the file */
	size_t		 nrows;
	json_t		*columns;	/* [name, ...] in file order */
	json_t		*personal;	/* [name, ...] declared personal */
	/* JSON text: [[cell, ...], ...], the rows without personal fields */
	const char	*rows;
	/* JSON text: [[row_no, column, value], ...], the personal fields in
	 * clear, or [[row_no, column, null, sealed_hex, blind_hex], ...]. */
	const char	*fields;
	struct apx_actor_ids by;
};

/* Insert U (inside the caller's transaction); *OUT: the upload. */
int	 apx_upload_insert(struct apx_db *, const struct apx_upload_new *,
	    json_t **);
/*
 * Up to LIMIT + 1 uploads of WS before id BEFORE (0: the newest), newest
 * first, one row each in the columns of apx_upload_cols (the members of
 * an upload's JSON, id first); PQclear it. With COLUMN (a personal
 * column) only those with a row whose COLUMN is VALUE (BLIND, when not
 * NULL, is the value's blind index in hex).
 */
#define APX_UPLOAD_NCOLS	10
extern const struct apx_jcol apx_upload_cols[APX_UPLOAD_NCOLS];
int	 apx_upload_list(struct apx_db *, int64_t, const char *, const char *,
	    const char *, int64_t, int, PGresult **);
/* One upload of WS, or *OUT NULL. */
int	 apx_upload_get(struct apx_db *, int64_t, int64_t, json_t **);
/*
 * The rows of upload ID of WS in order: columns row_no, cells (JSON array
 * text), personal (JSON object text: column -> value, or -> [sealed_hex]
 * when sealed). APX_ENOTFOUND for no such upload.
 */
int	 apx_upload_rows(struct apx_db *, int64_t, int64_t, PGresult **);
/* Delete upload ID of WS and its forecasts (in the caller's
 * transaction); *OUT: what was deleted, with forecasts_deleted. */
int	 apx_upload_delete(struct apx_db *, int64_t, int64_t, json_t **);

/* Is column NAME of upload UP (its JSON answer) declared personal? */
int	 apx_upload_is_personal(json_t *, const char *);
/*
 * The place of column NAME among the cells a row of upload UP stores (its
 * non-personal columns), -1 when the upload has no such column, -2 when
 * it is a personal one.
 */
long	 apx_upload_cell_index(json_t *, const char *);
/* Delete every upload and forecast of workspace WS (caller's
 * transaction). */
int	 apx_upload_delete_workspace(struct apx_db *, int64_t);
/* An id for an upload about to be inserted (its sealed fields name it). */
int	 apx_upload_next_id(struct apx_db *, int64_t *);

struct apx_vault;
/*
 * Seal up to MAX personal fields still in clear (org ORG's key, through
 * control-plane CTL), batch by batch, rows locked and skipped so that runs
 * may overlap; *DONE counts them, *LEFT what is still in clear after.
 */
int	 apx_upload_seal_personal(struct apx_db *, struct apx_db *,
	    struct apx_vault *, int64_t, long long, long long *, long long *);

struct apx_tenants;
struct apx_seal_report {
	long long	 orgs;		/* orgs with pii_encryption on */
	long long	 sealed;	/* fields sealed by this run */
	long long	 left;		/* fields still in clear after it */
	json_t		*failed;	/* slugs that failed */
};
/*
 * The background job of pii_encryption: every org that has it on (Growth+)
 * gets its clear personal fields sealed, at most MAX in all this run.
 */
int	 apx_upload_seal_all(struct apx_db *, struct apx_tenants *,
	    struct apx_vault *, long long, struct apx_seal_report *);

struct apx_forecast_new {
	int64_t		 ws;
	int64_t		 upload;
	const char	*name;
	json_t		*parameters;
	json_t		*result;
	struct apx_actor_ids by;
};

int	 apx_forecast_insert(struct apx_db *, const struct apx_forecast_new *,
	    json_t **);
/* The same for forecasts (without results): apx_forecast_cols. */
#define APX_FORECAST_NCOLS	7
extern const struct apx_jcol apx_forecast_cols[APX_FORECAST_NCOLS];
int	 apx_forecast_list(struct apx_db *, int64_t, int64_t, int, PGresult **);
/* One forecast with its result, or *OUT NULL. */
int	 apx_forecast_get(struct apx_db *, int64_t, int64_t, json_t **);
int	 apx_forecast_delete(struct apx_db *, int64_t, int64_t, json_t **);

#endif
