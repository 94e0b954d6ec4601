/*
 * accupredix-admin audit: check the hash chains of the audit logs and,
 * with --anchor, the heads anchored outside the database; anchor the
 * heads of every log (a file the operator keeps, and/or syslog).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/apx.h"
#include "core/buf.h"
#include "core/conf.h"
#include "store/audit.h"
#include "store/db.h"

#define ANCHOR_BATCH	500	/* anchors compared in one statement */
#define REPORT_MAX	100	/* failed anchors printed one by one */
#define SYSLOG_IDENT	"accupredix-audit-anchor"

static void	 usage(void);
static int	 verify(struct apx_db *, const char *, const char *);
static int	 check_anchors(struct apx_db *, const char *, const char *,
		    int *);
static void	 report(const char *, const struct apx_audit_anchor *);
static int	 anchor(struct apx_db *, const char *, int);
static int	 append_file(const char *, const char *, size_t);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: accupredix-admin audit verify [--log L] [--anchor FILE]\n"
	    "       accupredix-admin audit anchor [--out FILE] [--syslog]\n");
}

int
apx_admin_audit(struct apx_conf *conf, int argc, char **argv)
{
	const char *log = NULL, *file = NULL;
	struct apx_db *db;
	int i, is_verify, use_syslog = 0, rc;

	if (argc < 2 || (strcmp(argv[1], "verify") != 0 &&
	    strcmp(argv[1], "anchor") != 0)) {
		usage();
		return 1;
	}
	is_verify = strcmp(argv[1], "verify") == 0;
	for (i = 2; i < argc; i++) {
		if (is_verify && strcmp(argv[i], "--log") == 0 &&
		    i + 1 < argc && log == NULL)
			log = argv[++i];
		else if (strcmp(argv[i], is_verify ? "--anchor" : "--out") ==
		    0 && i + 1 < argc && file == NULL)
			file = argv[++i];
		else if (!is_verify && strcmp(argv[i], "--syslog") == 0)
			use_syslog = 1;
		else {
			usage();
			return 1;
		}
	}
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin"))
	    == NULL)
		return 1;
	rc = is_verify ? verify(db, log, file) : anchor(db, file, use_syslog);
	apx_db_free(db);
	return rc;
}

/* 0 intact, 2 broken (a chain, or an anchor that does not hold), 1 error. */
static int
verify(struct apx_db *db, const char *log, const char *file)
{
	char text[4096];
	long long rows;
	int rc, broken = 0;

	rc = apx_audit_verify(db, log, &rows, text, sizeof(text));
	if (rc == 0)
		printf("audit: %lld entries checked, every chain intact\n",
		    rows);
	else if (rc == APX_ECONFLICT) {
		printf("audit: %lld entries checked; BROKEN:\n%s\n", rows,
		    text);
		broken = 1;
	} else {
		fprintf(stderr, "accupredix-admin: audit verify: %s\n",
		    apx_strerror(rc));
		return 1;
	}
	if (file != NULL && check_anchors(db, log, file, &broken) != 0)
		return 1;
	return broken ? 2 : 0;
}

static void
report(const char *file, const struct apx_audit_anchor *a)
{
	printf("%s:%lu: log %s seq %lld: ", file, a->line, a->log, a->seq);
	switch (a->state) {
	case APX_AUDIT_ANCHOR_CHANGED:
		printf("changed (the entry at this seq has another digest)\n");
		break;
	case APX_AUDIT_ANCHOR_MISSING:
		printf("missing (no entry at this seq; the log ends at seq "
		    "%lld)\n", a->head);
		break;
	case APX_AUDIT_ANCHOR_SHORTER:
		printf("shorter (the chain ends at seq %lld, before its "
		    "anchor)\n", a->head);
		break;
	default:
		printf("holds\n");
		break;
	}
}

/*
 * Every anchor line of FILE (of LOG only, if given) against the logs, in
 * batches: the file is operator input of any size, read strictly (a
 * malformed line is an error naming FILE:LINE). Every line is checked,
 * not only the newest of each log: a log rewritten and anchored again
 * still contradicts its older anchors. *BROKEN set when one fails.
 */
static int
check_anchors(struct apx_db *db, const char *log, const char *file,
    int *broken)
{
	struct apx_audit_anchor_reader r;
	struct apx_audit_anchor *v;
	char err[512];
	size_t n = 0, i, total = 0, bad = 0, b, shown = 0;
	int got, eof = 0, rc = -1;

	if ((v = calloc(ANCHOR_BATCH, sizeof(*v))) == NULL)
		return -1;
	if ((r.f = fopen(file, "re")) == NULL) {
		fprintf(stderr, "accupredix-admin: %s: %s\n", file,
		    strerror(errno));
		free(v);
		return -1;
	}
	r.name = file;
	r.line = 0;
	while (!eof) {
		if ((got = apx_audit_anchor_next(&r, &v[n], err,
		    sizeof(err))) < 0) {
			fprintf(stderr, "accupredix-admin: %s\n", err);
			goto out;
		}
		if (got == 0)
			eof = 1;
		else if (log == NULL || strcmp(v[n].log, log) == 0)
			n++;
		if (n < ANCHOR_BATCH && !(eof && n > 0))
			continue;
		if ((got = apx_audit_anchor_check(db, v, n, &b)) != 0) {
			fprintf(stderr, "accupredix-admin: audit verify: %s\n",
			    apx_strerror(got));
			goto out;
		}
		for (i = 0; i < n && b > 0; i++)
			if (v[i].state != APX_AUDIT_ANCHOR_OK &&
			    shown < REPORT_MAX) {
				report(file, &v[i]);
				shown++;
			}
		total += n;
		bad += b;
		n = 0;
	}
	if (total == 0) {
		fprintf(stderr, "accupredix-admin: %s: no anchor%s%s\n", file,
		    log != NULL ? " of log " : "", log != NULL ? log : "");
		goto out;
	}
	if (bad > shown)
		printf("... and %zu more\n", bad - shown);
	if (bad == 0)
		printf("audit: %zu anchors of %s checked, every one holds\n",
		    total, file);
	else {
		printf("audit: %zu anchors of %s checked; %zu DO NOT HOLD\n",
		    total, file, bad);
		*broken = 1;
	}
	rc = 0;
out:
	fclose(r.f);
	free(v);
	return rc;
}

/*
 * The head of every log as anchor lines: appended to FILE (created 0600,
 * fsync'd), sent to syslog, or (with neither) written to stdout.
 */
static int
anchor(struct apx_db *db, const char *file, int use_syslog)
{
	struct apx_audit_anchor *v = NULL;
	struct apx_buf out = { 0 };
	char line[APX_AUDIT_ANCHOR_LINE_MAX + 2];
	size_t n = 0, i;
	int rc;

	if ((rc = apx_audit_heads(db, NULL, &v, &n)) != 0) {
		fprintf(stderr, "accupredix-admin: audit anchor: %s\n",
		    apx_strerror(rc));
		return 1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = apx_audit_anchor_format(&v[i], line,
		    sizeof(line))) == 0)
			rc = apx_buf_adds(&out, line);
	if (rc != 0) {
		fprintf(stderr, "accupredix-admin: audit anchor: %s\n",
		    apx_strerror(rc));
		rc = 1;
		goto out;
	}
	if (file != NULL && append_file(file, out.data != NULL ? out.data :
	    "", out.len) != 0) {
		rc = 1;
		goto out;
	}
	if (use_syslog) {
		openlog(SYSLOG_IDENT, LOG_PID, LOG_AUTHPRIV);
		for (i = 0; i < n; i++)
			if (apx_audit_anchor_format(&v[i], line,
			    sizeof(line)) == 0)
				syslog(LOG_NOTICE, "%.*s",
				    (int)strcspn(line, "\n"), line);
		closelog();
	}
	if (file == NULL && !use_syslog) {
		if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) !=
		    out.len)
			rc = 1;
	} else
		printf("audit: %zu log heads anchored%s%s%s\n", n,
		    file != NULL ? " to " : "", file != NULL ? file : "",
		    use_syslog ? (file != NULL ? " and syslog" : " to syslog") :
		    "");
out:
	apx_buf_free(&out);
	free(v);
	return rc;
}

/* LEN bytes of DATA at the end of PATH (a regular file, not a symlink). */
static int
append_file(const char *path, const char *data, size_t len)
{
	struct stat st;
	ssize_t w;
	int fd, rc = -1;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "accupredix-admin: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "accupredix-admin: %s: not a regular file\n",
		    path);
		goto out;
	}
	while (len > 0) {
		if ((w = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "accupredix-admin: %s: %s\n", path,
			    strerror(errno));
			goto out;
		}
		data += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1) {
		fprintf(stderr, "accupredix-admin: %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (close(fd) == -1 && rc == 0) {
		fprintf(stderr, "accupredix-admin: %s: %s\n", path,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}
