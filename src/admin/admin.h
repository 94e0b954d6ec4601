/* accupredix-admin: commands that live in files of their own. */
#ifndef APX_ADMIN_ADMIN_H
#define APX_ADMIN_ADMIN_H

struct apx_conf;

/* `audit verify [--log L] [--anchor FILE]` and `audit anchor [--out FILE]
 * [--syslog]` (ARGV[0] is "audit"): the exit status. */
int	 apx_admin_audit(struct apx_conf *, int, char **);

/* `setup --control C --region NAME=C ... --public-origin URL [--etc DIR]
 * [--app-user U] [--security-contact URI] [--single-host-trial]`, before
 * any configuration exists; CONF_PATH (may be NULL: ETC/accupredix.conf)
 * is the file it writes. The exit status. */
int	 apx_admin_setup(const char *, int, char **);

/* `render-errors --from TEMPLATE_DIR --out DIR`: the exit status. */
int	 apx_admin_render_errors(struct apx_conf *, int, char **);

/* `connectors sync [--org SLUG] [--connection ID]` and `jobs run
 * [--once] [--lease S] [--poll S]` (connectors.c): the exit status. */
int	 apx_admin_connectors(struct apx_conf *, int, char **);
int	 apx_admin_jobs(struct apx_conf *, int, char **);

/* A long-running loop's options, [--once] [--lease S] [--poll S] after
 * ARGV[1] (R holds the defaults), with SIGTERM and SIGINT setting *STOP:
 * 0, or 1 for a bad argument. */
struct apx_admin_runner {
	int		 once;
	long long	 lease;
	long long	 poll;
	volatile int	*stop;
};
int	 apx_admin_runner_opts(int, char **, struct apx_admin_runner *);

/* `mail send [--once] [--lease S] [--poll S]`, `mail status` and `user
 * verify --email ADDRESS` (mail.c): the exit status. */
int	 apx_admin_mail(struct apx_conf *, int, char **);
int	 apx_admin_user(struct apx_conf *, int, char **);

#endif
