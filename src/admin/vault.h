/* accupredix-admin: the vault commands that have a file of their own. */
#ifndef APX_ADMIN_VAULT_H
#define APX_ADMIN_VAULT_H

struct apx_conf;

/*
 * vault rotate --data-keys [--org SLUG] [--batch N] [--resume]
 * (ARGV from "rotate" on): exit status.
 */
int	 apx_admin_rotate_data_keys(struct apx_conf *, int, char **);

#endif
