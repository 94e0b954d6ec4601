/*
 * accupredix-admin render-errors: the problem+json bodies the web server
 * answers with itself (httpd-conf/errors/NNN.json), rendered for this
 * configuration: "@PROBLEM_TYPE_BASE@" becomes http.problem_type_base, so
 * the web server's `type` URLs are the app's. Each NNN.json is written
 * twice: NNN.json (Apache ErrorDocument) and status-NNN.html (lighttpd
 * server.errorfile-prefix).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "admin/admin.h"
#include "core/apx.h"
#include "core/conf.h"

#define PLACEHOLDER	"@PROBLEM_TYPE_BASE@"
#define MAX_TEMPLATE	(16 * 1024)

static int	 render_one(const char *, const char *, const char *,
		    const char *, int *);
static int	 put_if_changed(const char *, const char *, size_t, int *);
static char	*slurp(const char *, size_t);

static char *
slurp(const char *path, size_t max)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (len < max && (n = read(fd, buf + len, max - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* PATH holds DATA (0644), written only when it differs; *WROTE counts. */
static int
put_if_changed(const char *path, const char *data, size_t len, int *wrote)
{
	char tmp[4096], *old;
	int fd, rc = -1;

	if ((old = slurp(path, len + 1)) != NULL) {
		rc = strlen(old) == len && memcmp(old, data, len) == 0;
		free(old);
		if (rc == 1)
			return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return -1;
	rc = write(fd, data, len) == (ssize_t)len && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0 ? 0 : -1;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		(void)unlink(tmp);
	else
		(*wrote)++;
	return rc;
}

/* FROM/NAME ("NNN.json") rendered with BASE into OUT. */
static int
render_one(const char *from, const char *name, const char *out,
    const char *base, int *wrote)
{
	char path[4096], *tpl, *res = NULL, *at;
	const char *type;
	size_t len = 0, cap;
	json_t *doc = NULL;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", from, name);
	if ((tpl = slurp(path, MAX_TEMPLATE)) == NULL) {
		fprintf(stderr, "accupredix-admin: render-errors: cannot read "
		    "%s: %s\n", path, strerror(errno));
		return -1;
	}
	cap = strlen(tpl) * 2 + strlen(base) * 8 + 1;
	if ((res = malloc(cap)) == NULL)
		goto out;
	res[0] = '\0';
	for (at = tpl; *at != '\0';) {
		char *hit = strstr(at, PLACEHOLDER);
		size_t n = hit != NULL ? (size_t)(hit - at) : strlen(at);

		if (len + n + strlen(base) + 1 > cap)
			goto out;
		memcpy(res + len, at, n);
		len += n;
		if (hit == NULL)
			break;
		memcpy(res + len, base, strlen(base));
		len += strlen(base);
		at = hit + strlen(PLACEHOLDER);
	}
	res[len] = '\0';
	/* What the web server will send must be a problem of this base. */
	if ((doc = json_loads(res, 0, NULL)) == NULL ||
	    (type = json_string_value(json_object_get(doc, "type"))) == NULL ||
	    strncmp(type, base, strlen(base)) != 0) {
		fprintf(stderr, "accupredix-admin: render-errors: %s is not a "
		    "problem+json template with \"type\": \"%s...\"\n", path,
		    PLACEHOLDER);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", out, name);
	if (put_if_changed(path, res, len, wrote) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/status-%.3s.html", out, name);
	if (put_if_changed(path, res, len, wrote) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "accupredix-admin: render-errors: cannot write %s: "
	    "%s\n", path, strerror(errno));
out:
	json_decref(doc);
	free(res);
	free(tpl);
	return rc;
}

int
apx_admin_render_errors(struct apx_conf *conf, int argc, char **argv)
{
	const char *from = NULL, *out = NULL, *b;
	struct dirent *de;
	DIR *d;
	int i, n = 0, wrote = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else
			from = out = NULL, i = argc;
	}
	if (from == NULL || out == NULL) {
		fprintf(stderr, "usage: accupredix-admin [--config FILE] "
		    "render-errors --from TEMPLATE_DIR --out DIR\n");
		return 1;
	}
	for (b = conf->problem_base; *b != '\0'; b++)
		if (*b == '\\' || *b == '"' || (unsigned char)*b < 0x20) {
			fprintf(stderr, "accupredix-admin: render-errors: "
			    "http.problem_type_base cannot go into JSON as "
			    "is\n");
			return 1;
		}
	if (mkdir(out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "accupredix-admin: render-errors: %s: %s\n",
		    out, strerror(errno));
		return 1;
	}
	if ((d = opendir(from)) == NULL) {
		fprintf(stderr, "accupredix-admin: render-errors: %s: %s\n",
		    from, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;

		if (strlen(s) != 8 || strcmp(s + 3, ".json") != 0 ||
		    strspn(s, "0123456789") != 3)
			continue;
		n++;
		if (render_one(from, s, out, conf->problem_base, &wrote) != 0)
			rc = 1;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "accupredix-admin: render-errors: no NNN.json "
		    "template in %s\n", from);
		return 1;
	}
	printf("error pages: %d templates rendered for %s into %s (%d files "
	    "written, %d unchanged)\n", n, conf->problem_base, out, wrote,
	    2 * n - wrote);
	return rc;
}
