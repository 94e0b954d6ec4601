/* accupredix-admin: commands that live in files of their own. */
#ifndef APX_ADMIN_ADMIN_H
#define APX_ADMIN_ADMIN_H

struct apx_conf;

/* `audit verify [--log L] [--anchor FILE]` and `audit anchor [--out FILE]
 * [--syslog]` (ARGV[0] is "audit"): the exit status. */
int	 apx_admin_audit(struct apx_conf *, int, char **);

#endif
