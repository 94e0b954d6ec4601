/*
 * Platform settings (ACCESS_TOKEN_LIFETIME, ...): declared with bounds in
 * one table, stored in platform_settings, read by every worker so that a
 * change applies to the next request anywhere.
 */
#ifndef APX_STORE_SETTINGS_H
#define APX_STORE_SETTINGS_H

#include <jansson.h>

struct apx_db;

/* A bounded integer setting, platform-wide or per org. */
struct apx_setting {
	const char	*key;
	long long	 def, min, max;
};

const struct apx_setting *apx_setting_find(const struct apx_setting *,
	    size_t, const char *);
/*
 * Check a patch object against a table without touching anything: on
 * failure *FIELD names the offending key and *REASON says why.
 */
int	 apx_setting_validate(const struct apx_setting *, size_t, json_t *,
	    const char **, const char **);

/* All known settings, stored values over defaults. */
int	 apx_settings_get_all(struct apx_db *, json_t **);
int	 apx_settings_get_int(struct apx_db *, const char *, long long *);
/*
 * Check a patch object without touching anything: on failure *FIELD
 * names the offending key and *REASON says why.
 */
int	 apx_settings_validate(json_t *, const char **, const char **);
struct apx_audit_entry;
/*
 * Apply a validated patch in one transaction together with its audit entry
 * (AUDIT's before/after are filled here), so nothing changes unaudited.
 */
int	 apx_settings_apply(struct apx_db *, json_t *, struct apx_audit_entry *);

struct apx_pwparams;
/* The argon2id parameters of the platform settings. */
int	 apx_settings_pwparams(struct apx_db *, struct apx_pwparams *);

#endif
