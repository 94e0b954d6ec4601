/*
 * Unit tests for core/conf.c: the key table, defaults, error messages in
 * "FILE:LINE: key 'k': reason" form, secrets from files, and environment
 * overrides.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/apx.h"
#include "core/conf.h"
#include "core/log.h"

/* Every key of docs/contract.md and conf.c: their APX_* must not leak in. */
static const char *const all_keys[] = {
	"db.conninfo", "db.admin_conninfo", "db.app_role",
	"http.max_body_bytes", "http.cors_origins", "http.hsts_max_age",
	"http.problem_type_base", "internal.secret",
	"security.contact", "security.expires", "security.policy",
	"security.preferred_languages", "security.canonical",
	"security.acknowledgments", "security.hiring", "security.encryption",
	"security.disclosure_terms", "worker.max_requests", "log.level", "org.regions",
	"http.public_origin", "jwt.issuer", "vault.keys",
	"capacity.processes", "http.problem_type_base",
	"regions.eu.conninfo", "regions.us.conninfo",
	"regions.us-east.conninfo",
};

#define FUTURE	"2099-01-01T00:00:00Z"
#define FUTURE_T 4070908800LL

/* The three required keys, for tests that only care about one more. */
#define MINIMAL \
	"db.conninfo = dbname=apx\n" \
	"security.contact = mailto:security@example.test\n" \
	"security.expires = " FUTURE "\n" \
	"regions.eu.conninfo = dbname=postgres\n" \
	"http.public_origin = https://app.example.test\n"

static int	 clear_env(void **);
static int	 parse(const char *, int, struct apx_conf **, char *, size_t);
static void	 expect_error(const char *, int, const char *);
static char	*write_temp(const char *, size_t);

static int
clear_env(void **state)
{
	char name[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
		if (apx_conf_env_name(all_keys[i], name, sizeof(name)) != 0)
			return -1;
		unsetenv(name);
	}
	return 0;
}

static int
parse(const char *text, int use_env, struct apx_conf **out, char *err,
    size_t errlen)
{
	*out = NULL;
	return apx_conf_parse("t.conf", text, strlen(text), use_env, out, err,
	    errlen);
}

/* Parse TEXT, expect APX_ECONFIG and an error containing WANT. */
static void
expect_error(const char *text, int use_env, const char *want)
{
	struct apx_conf *c = NULL;
	char err[512];

	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	assert_int_equal(parse(text, use_env, &c, err, sizeof(err)),
	    APX_ECONFIG);
	assert_null(c);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static char *
write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/apx-test-conf-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

/* --- valid configurations ---------------------------------------------- */

static void
test_full_valid(void **state)
{
	static const char text[] =
	    "# AccuPredix test configuration\n"
	    "\n"
	    "db.conninfo = host=/run/postgresql dbname=apx user=apx_app\n"
	    "db.admin_conninfo = host=/run/postgresql dbname=apx user=owner\n"
	    "db.app_role = apx_app\n"
	    "regions.eu.conninfo = host=/run/postgresql dbname=postgres\n"
	    "   http.max_body_bytes=2048   \n"
	    "http.cors_origins = https://app.example.test "
	    "http://localhost:8080\n"
	    "http.hsts_max_age = 600\n"
	    "http.problem_type_base = https://errors.example.test/p/\n"
	    "internal.secret = s3cret-value\n"
	    "security.contact = mailto:security@example.test "
	    "https://example.test/security\n"
	    "security.expires = " FUTURE "\n"
	    "security.policy = https://example.test/policy\n"
	    "security.preferred_languages = en, de\n"
	    "security.canonical = "
	    "https://example.test/.well-known/security.txt\n"
	    "security.acknowledgments = https://example.test/thanks\n"
	    "security.hiring = https://example.test/jobs\n"
	    "security.encryption = https://example.test/pgp.asc\n"
	    "worker.max_requests = 0\n"
	    "\tlog.level = debug\r\n"
	    "http.public_origin = https://app.example.test\n";
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	if (parse(text, use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_non_null(c);
	assert_string_equal(c->path, "t.conf");
	assert_string_equal(apx_secret_str(c->db_conninfo),
	    "host=/run/postgresql dbname=apx user=apx_app");
	assert_string_equal(apx_secret_str(c->db_admin_conninfo),
	    "host=/run/postgresql dbname=apx user=owner");
	assert_string_equal(c->db_app_role, "apx_app");
	assert_true(c->http_max_body == 2048);
	assert_int_equal(c->cors_origins.n, 2);
	assert_string_equal(c->cors_origins.v[0], "https://app.example.test");
	assert_string_equal(c->cors_origins.v[1], "http://localhost:8080");
	assert_true(apx_strlist_has(&c->cors_origins,
	    "http://localhost:8080"));
	assert_false(apx_strlist_has(&c->cors_origins, "http://localhost"));
	assert_true(c->hsts_max_age == 600);
	assert_string_equal(c->problem_base, "https://errors.example.test/p/");
	assert_string_equal(apx_secret_str(c->internal_secret),
	    "s3cret-value");
	assert_int_equal(c->internal_secret->len, 12);
	assert_int_equal(c->sec_contact.n, 2);
	assert_string_equal(c->sec_contact.v[1],
	    "https://example.test/security");
	assert_true(c->sec_expires == FUTURE_T);
	assert_string_equal(c->sec_policy, "https://example.test/policy");
	assert_string_equal(c->sec_languages, "en, de");
	assert_string_equal(c->sec_canonical,
	    "https://example.test/.well-known/security.txt");
	assert_string_equal(c->sec_acknowledgments,
	    "https://example.test/thanks");
	assert_string_equal(c->sec_hiring, "https://example.test/jobs");
	assert_string_equal(c->sec_encryption, "https://example.test/pgp.asc");
	assert_true(c->worker_max_requests == 0);
	assert_int_equal(c->log_level, APX_LOG_DEBUG);
	apx_conf_free(c);
}

static void
test_defaults(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	if (parse(MINIMAL, use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_true(c->http_max_body == 1048576);
	assert_true(c->worker_max_requests == 10000);
	assert_true(c->hsts_max_age == 31536000);
	assert_int_equal(c->log_level, APX_LOG_INFO);
	/* The product's URLs come from http.public_origin, never from a
	 * built-in host name. */
	assert_string_equal(c->problem_base,
	    "https://app.example.test/problems/");
	assert_string_equal(c->jwt_issuer, "https://app.example.test");
	assert_true(c->capacity_processes == 32);
	/* db.admin_conninfo defaults to db.conninfo (a copy). */
	assert_non_null(c->db_admin_conninfo);
	assert_ptr_not_equal(c->db_admin_conninfo, c->db_conninfo);
	assert_string_equal(apx_secret_str(c->db_admin_conninfo), "dbname=apx");
	assert_null(c->db_app_role);
	assert_null(c->internal_secret);
	assert_int_equal(c->cors_origins.n, 0);
	/* security.txt names the disclosure page of the origin. */
	assert_string_equal(c->sec_policy,
	    "https://app.example.test/security/disclosure");
	assert_null(c->sec_encryption);
	assert_null(c->sec_disclosure_terms);
	apx_conf_free(c);
}

/* --- errors: FILE:LINE: key 'name': reason ------------------------------ */

static void
test_unknown_key(void **state)
{
	int use_env = *(int *)*state;

	expect_error("db.conninfo = x\n# comment\n\nnot.a.key = 1\n", use_env,
	    "t.conf:4: key 'not.a.key': unknown key");
	expect_error(MINIMAL "db.conninfox = 1\n", use_env,
	    "t.conf:6: key 'db.conninfox': unknown key");
}

static void
test_duplicate_key(void **state)
{
	int use_env = *(int *)*state;

	expect_error(MINIMAL "worker.max_requests = 5\n"
	    "worker.max_requests = 5\n", use_env,
	    "t.conf:7: key 'worker.max_requests': set twice");
	expect_error("db.conninfo = a\ndb.conninfo = a\n", use_env,
	    "t.conf:2: key 'db.conninfo': set twice");
}

static void
test_bad_int(void **state)
{
	int use_env = *(int *)*state;

	expect_error(MINIMAL "http.max_body_bytes = abc\n", use_env,
	    "t.conf:6: key 'http.max_body_bytes': must be a whole number "
	    "from 1024 to 67108864");
	expect_error(MINIMAL "http.max_body_bytes = 1023\n", use_env,
	    "t.conf:6: key 'http.max_body_bytes': must be a whole number");
	expect_error(MINIMAL "http.max_body_bytes = 67108865\n", use_env,
	    "t.conf:6: key 'http.max_body_bytes': must be a whole number");
	expect_error(MINIMAL "worker.max_requests = -1\n", use_env,
	    "t.conf:6: key 'worker.max_requests': must be a whole number");
	expect_error(MINIMAL "worker.max_requests = 99999999999999999999\n",
	    use_env, "t.conf:6: key 'worker.max_requests'");
	expect_error(MINIMAL "http.hsts_max_age = 1 0\n", use_env,
	    "t.conf:6: key 'http.hsts_max_age': must be a whole number");
}

static void
test_bad_values(void **state)
{
	int use_env = *(int *)*state;

	expect_error(MINIMAL "log.level = loud\n", use_env,
	    "t.conf:6: key 'log.level': must be one of");
	expect_error(MINIMAL "db.app_role = Apx-App\n", use_env,
	    "t.conf:6: key 'db.app_role': must be a lower-case SQL identifier");
	expect_error(MINIMAL "db.app_role = 1app\n", use_env,
	    "key 'db.app_role'");
	expect_error(MINIMAL "security.policy = http://example.test/p\n",
	    use_env,
	    "t.conf:6: key 'security.policy': must be an https:// URL");
	expect_error(MINIMAL "security.preferred_languages = en\x01\n",
	    use_env, "t.conf:6: key 'security.preferred_languages': contains "
	    "control characters");
	expect_error(MINIMAL "log.level =\n", use_env,
	    "t.conf:6: key 'log.level': empty value");
	expect_error(MINIMAL "justakey\n", use_env,
	    "t.conf:6: key 'justakey': expected 'key = value'");
	expect_error("security.expires = 2099-02-30T00:00:00Z\n", use_env,
	    "t.conf:1: key 'security.expires': must be an RFC 3339 UTC time");
}

static void
test_nul_byte_refused(void **state)
{
	static const char text[] = "db.conninfo = a\0b\n";
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	assert_int_equal(apx_conf_parse("t.conf", text, sizeof(text) - 1,
	    use_env, &c, err, sizeof(err)), APX_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(err, "t.conf:1:"));
	assert_non_null(strstr(err, "NUL"));
}

static void
test_missing_required(void **state)
{
	int use_env = *(int *)*state;

	expect_error("security.contact = mailto:a@example.test\n"
	    "security.expires = " FUTURE "\n", use_env,
	    "t.conf: key 'db.conninfo': required but not set");
	expect_error("db.conninfo = x\nsecurity.expires = " FUTURE "\n",
	    use_env, "t.conf: key 'security.contact': required but not set");
	expect_error("db.conninfo = x\n"
	    "security.contact = mailto:a@example.test\n",
	    use_env, "t.conf: key 'security.expires': required but not set");
	expect_error("", use_env, "required but not set");
	/* Each names the file and the variable that would set it. */
	expect_error("security.contact = mailto:a@example.test\n"
	    "security.expires = " FUTURE "\n", use_env,
	    "required but not set (set it in t.conf or as APX_DB_CONNINFO)");
}

/* Issuer and problem base come from the configuration, never a default
 * host: without http.public_origin both must be set. */
static void
test_public_origin(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;
	static const char base[] =
	    "db.conninfo = x\nsecurity.contact = mailto:a@example.test\n"
	    "security.expires = " FUTURE "\nregions.eu.conninfo = y\n";

	expect_error(base, use_env, "t.conf: key 'http.public_origin': "
	    "required unless jwt.issuer and http.problem_type_base are both "
	    "set (they derive from it): set it in t.conf or as "
	    "APX_HTTP_PUBLIC_ORIGIN");
	expect_error(MINIMAL "jwt.issuer = https://id.example.test\n"
	    "http.public_origin = https://b.example.test\n", use_env,
	    "t.conf:7: key 'http.public_origin': set twice");
	/* Explicit values win over the derived ones. */
	if (parse(MINIMAL "jwt.issuer = https://id.example.test\n"
	    "http.problem_type_base = https://docs.example.test/p/\n",
	    use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(c->jwt_issuer, "https://id.example.test");
	assert_string_equal(c->problem_base, "https://docs.example.test/p/");
	apx_conf_free(c);
}

/* apx_conf_where names FILE:LINE, the variable, or the default. */
static void
test_where(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "", w[256];

	(void)state;
	assert_int_equal(setenv("APX_VAULT_KEYS", "1:x", 1), 0);
	if (parse(MINIMAL "regions.us-east.conninfo = z\n", 1, &c, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	apx_conf_where(c, "security.expires", w, sizeof(w));
	assert_string_equal(w, "t.conf:3");
	apx_conf_where(c, "regions.us-east.conninfo", w, sizeof(w));
	assert_string_equal(w, "t.conf:6");
	apx_conf_where(c, "vault.keys", w, sizeof(w));
	assert_string_equal(w, "environment APX_VAULT_KEYS");
	apx_conf_where(c, "log.level", w, sizeof(w));
	assert_string_equal(w, "t.conf (default; set log.level there or as "
	    "APX_LOG_LEVEL)");
	apx_conf_free(c);
	unsetenv("APX_VAULT_KEYS");
	/* org.regions from the environment: its error names the variable. */
	assert_int_equal(setenv("APX_ORG_REGIONS", "eu mars", 1), 0);
	expect_error(MINIMAL, 1, "environment APX_ORG_REGIONS: key "
	    "'org.regions': region 'mars' has no regions.mars.conninfo");
	unsetenv("APX_ORG_REGIONS");
}

static void
test_expires_past(void **state)
{
	int use_env = *(int *)*state;

	expect_error("db.conninfo = x\n"
	    "security.contact = mailto:a@example.test\n"
	    "\n"
	    "security.expires = 2001-01-01T00:00:00Z\n", use_env,
	    "t.conf:4: key 'security.expires': is in the past");
}

static void
test_expires_future(void **state)
{
	struct apx_conf *c = NULL;
	char text[256], when[32], err[256] = "";
	int64_t soon = apx_unix_now() + 120;
	int use_env = *(int *)*state;

	/* Two minutes ahead is enough. */
	apx_rfc3339_format(soon, when, sizeof(when));
	snprintf(text, sizeof(text), "db.conninfo = x\n"
	    "regions.eu.conninfo = y\n"
	    "security.contact = mailto:a@example.test\n"
	    "security.expires = %s\n"
	    "http.public_origin = https://app.example.test\n", when);
	if (parse(text, use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_true(c->sec_expires == soon);
	apx_conf_free(c);
}

static void
test_cors_origins(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	assert_int_equal(parse(MINIMAL "http.cors_origins = "
	    "https://app.example.test,https://b.example.test:8443 "
	    "http://[::1]:8080\n", use_env, &c, err, sizeof(err)), 0);
	assert_int_equal(c->cors_origins.n, 3);
	assert_string_equal(c->cors_origins.v[1],
	    "https://b.example.test:8443");
	assert_string_equal(c->cors_origins.v[2], "http://[::1]:8080");
	apx_conf_free(c);

	expect_error(MINIMAL "http.cors_origins = https://app.example.test/\n",
	    use_env, "t.conf:6: key 'http.cors_origins': entry 1 is not an "
	    "origin");
	expect_error(MINIMAL "http.cors_origins = https://ok.example.test "
	    "ftp://x.example.test\n", use_env,
	    "t.conf:6: key 'http.cors_origins': entry 2 is not an origin");
	expect_error(MINIMAL "http.cors_origins = *\n", use_env,
	    "entry 1 is not an origin");
	expect_error(MINIMAL "http.cors_origins = https://\n", use_env,
	    "entry 1 is not an origin");
	expect_error(MINIMAL "http.cors_origins = null\n", use_env,
	    "entry 1 is not an origin");
	expect_error(MINIMAL "http.cors_origins = HTTPS://APP.example.test\n",
	    use_env, "entry 1 is not an origin");
	expect_error(MINIMAL "http.cors_origins = https://a.test/path\n",
	    use_env, "entry 1 is not an origin");
}

static void
test_contacts(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	assert_int_equal(parse("db.conninfo = x\nregions.eu.conninfo = y\n"
	    "security.expires = " FUTURE
	    "\nsecurity.contact = mailto:security@example.test "
	    "https://example.test/sec tel:+15550100\n"
	    "http.public_origin = https://app.example.test\n", use_env, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c->sec_contact.n, 3);
	assert_string_equal(c->sec_contact.v[0],
	    "mailto:security@example.test");
	assert_string_equal(c->sec_contact.v[2], "tel:+15550100");
	apx_conf_free(c);

	expect_error("security.contact = mailto:nobody\n", use_env,
	    "t.conf:1: key 'security.contact': entry 1 is not a mailto:");
	expect_error("security.contact = https://example.test/a "
	    "http://example.test/b\n", use_env,
	    "t.conf:1: key 'security.contact': entry 2 is not");
	expect_error("security.contact = security@example.test\n", use_env,
	    "entry 1 is not");
	expect_error("security.contact = tel:\n", use_env, "entry 1 is not");
	expect_error("security.contact = https://\n", use_env,
	    "entry 1 is not");
}

/* --- secrets from files ------------------------------------------------ */

static void
test_secret_file(void **state)
{
	struct apx_conf *c = NULL;
	char text[512], err[256] = "";
	char *path = write_temp("s3cret-from-file\n", 17);
	char *path2 = write_temp("dbname=other\r\n\n", 15);
	int use_env = *(int *)*state;

	snprintf(text, sizeof(text), MINIMAL "internal.secret = file:%s\n"
	    "db.admin_conninfo = file:%s\n", path, path2);
	if (parse(text, use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(apx_secret_str(c->internal_secret),
	    "s3cret-from-file");
	assert_int_equal(c->internal_secret->len, 16);
	assert_string_equal(apx_secret_str(c->db_admin_conninfo),
	    "dbname=other");
	assert_int_equal(c->db_admin_conninfo->len, 12);
	apx_conf_free(c);
	unlink(path);
	unlink(path2);
	free(path);
	free(path2);
}

static void
test_secret_file_unreadable(void **state)
{
	char text[512], dir[] = "/tmp/apx-test-dir-XXXXXX";
	char *empty = write_temp("", 0), *nl = write_temp("\n", 1);
	int use_env = *(int *)*state;

	expect_error(MINIMAL "internal.secret = file:/nonexistent/apx-secret\n",
	    use_env, "t.conf:6: key 'internal.secret': cannot read secret "
	    "file /nonexistent/apx-secret");
	/* A directory is not a secret file. */
	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text), MINIMAL "internal.secret = file:%s\n",
	    dir);
	expect_error(text, use_env, "t.conf:6: key 'internal.secret': cannot "
	    "read secret file");
	rmdir(dir);
	/* An empty file, or one with only a newline, is an empty secret. */
	snprintf(text, sizeof(text), MINIMAL "internal.secret = file:%s\n",
	    empty);
	expect_error(text, use_env, "t.conf:6: key 'internal.secret': empty");
	snprintf(text, sizeof(text), MINIMAL "internal.secret = file:%s\n",
	    nl);
	expect_error(text, use_env, "t.conf:6: key 'internal.secret': empty");
	unlink(empty);
	unlink(nl);
	free(empty);
	free(nl);
}

static void
test_secret_not_in_error(void **state)
{
	struct apx_conf *c = NULL;
	char err[512] = "";
	int use_env = *(int *)*state;

	/* A later error must not quote an earlier secret value. */
	assert_int_equal(parse(MINIMAL "internal.secret = hunter2-secret\n"
	    "internal.secret = hunter2-secret\n", use_env, &c, err,
	    sizeof(err)), APX_ECONFIG);
	assert_non_null(strstr(err, "set twice"));
	assert_null(strstr(err, "hunter2"));
}

/* --- environment ------------------------------------------------------- */

static void
test_env_overrides_file(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(setenv("APX_HTTP_MAX_BODY_BYTES", "4096", 1), 0);
	assert_int_equal(setenv("APX_LOG_LEVEL", "warn", 1), 0);
	/* use_env = 1: the environment wins. */
	if (parse(MINIMAL "http.max_body_bytes = 2048\n", 1, &c, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_true(c->http_max_body == 4096);
	assert_int_equal(c->log_level, APX_LOG_WARN);
	apx_conf_free(c);
	/* use_env = 0: the environment is not read. */
	assert_int_equal(parse(MINIMAL "http.max_body_bytes = 2048\n", 0, &c,
	    err, sizeof(err)), 0);
	assert_true(c->http_max_body == 2048);
	assert_int_equal(c->log_level, APX_LOG_INFO);
	apx_conf_free(c);
}

static void
test_regions(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";
	int use_env = *(int *)*state;

	/* Without org.regions: the configured regions, "eu" first. */
	if (parse("db.conninfo = x\nsecurity.contact = mailto:a@example.test\n"
	    "security.expires = " FUTURE "\nregions.us.conninfo = dbname=u\n"
	    "regions.eu.conninfo = dbname=e\nregions.ap-2.conninfo = a\n"
	    "http.public_origin = https://app.example.test\n", use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(c->org_regions.n, 3);
	assert_string_equal(c->org_regions.v[0], "eu");
	assert_string_equal(c->org_regions.v[1], "us");
	assert_string_equal(c->org_regions.v[2], "ap-2");
	assert_int_equal(c->nregions, 3);
	assert_string_equal(apx_secret_str(apx_conf_region(c, "us")->conninfo),
	    "dbname=u");
	assert_null(apx_conf_region(c, "mars"));
	apx_conf_free(c);

	/* org.regions may list fewer (a region being drained keeps its
	 * server for the orgs it has). */
	if (parse(MINIMAL "regions.us.conninfo = u\norg.regions = us\n",
	    use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_int_equal(c->org_regions.n, 1);
	assert_string_equal(c->org_regions.v[0], "us");
	assert_non_null(apx_conf_region(c, "eu"));
	apx_conf_free(c);

	/* Every error names FILE:LINE or the variable to set. */
	expect_error(MINIMAL "org.regions = eu us\n", use_env,
	    "t.conf:6: key 'org.regions': region 'us' has no "
	    "regions.us.conninfo");
	expect_error(MINIMAL "org.regions = eu us\n", use_env,
	    "set it in t.conf or as APX_REGIONS_US_CONNINFO");
	expect_error(MINIMAL "org.regions = eu us-east\n", use_env,
	    "or as APX_REGIONS_US_EAST_CONNINFO");
	expect_error("db.conninfo = x\nsecurity.contact = mailto:a@example.test"
	    "\nsecurity.expires = " FUTURE "\n", use_env,
	    "t.conf: key 'org.regions': region 'eu' (the default) has no "
	    "regions.eu.conninfo (the PostgreSQL server of its tenant "
	    "databases): set it in t.conf or as APX_REGIONS_EU_CONNINFO");
	expect_error(MINIMAL "regions.eu.conninfo = again\n", use_env,
	    "t.conf:6: key 'regions.eu.conninfo': set twice");
	expect_error(MINIMAL "regions.EU.conninfo = x\n", use_env,
	    "t.conf:6: key 'regions.EU.conninfo': unknown key");
	expect_error(MINIMAL "regions..conninfo = x\n", use_env,
	    "unknown key");
	expect_error(MINIMAL "regions.us.conninfo =\n", use_env,
	    "t.conf:6: key 'regions.us.conninfo': empty value");
	expect_error(MINIMAL "regions.us.password = x\n", use_env,
	    "unknown key");
	expect_error(MINIMAL "regions.a1.conninfo = 1\nregions.a2.conninfo = 1\n"
	    "regions.a3.conninfo = 1\nregions.a4.conninfo = 1\n"
	    "regions.a5.conninfo = 1\nregions.a6.conninfo = 1\n"
	    "regions.a7.conninfo = 1\nregions.a8.conninfo = 1\n"
	    "regions.a9.conninfo = 1\nregions.b1.conninfo = 1\n"
	    "regions.b2.conninfo = 1\nregions.b3.conninfo = 1\n"
	    "regions.b4.conninfo = 1\nregions.b5.conninfo = 1\n"
	    "regions.b6.conninfo = 1\nregions.b7.conninfo = 1\n", use_env,
	    "more than 16 regions");
}

static void
test_regions_env(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";

	(void)state;
	/* The environment names regions of org.regions (dash as '_') and
	 * overrides the file. */
	assert_int_equal(setenv("APX_REGIONS_US_EAST_CONNINFO", "dbname=ue", 1),
	    0);
	assert_int_equal(setenv("APX_REGIONS_EU_CONNINFO", "dbname=env", 1), 0);
	if (parse(MINIMAL "org.regions = eu us-east\n", 1, &c, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(apx_secret_str(apx_conf_region(c, "eu")->conninfo),
	    "dbname=env");
	assert_string_equal(
	    apx_secret_str(apx_conf_region(c, "us-east")->conninfo),
	    "dbname=ue");
	apx_conf_free(c);
	/* Without the environment, us-east has no server. */
	expect_error(MINIMAL "org.regions = eu us-east\n", 0,
	    "region 'us-east' has no regions.us-east.conninfo");
	(void)clear_env(NULL);
}

static void
test_env_supplies_required(void **state)
{
	struct apx_conf *c = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(setenv("APX_DB_CONNINFO", "dbname=fromenv", 1), 0);
	assert_int_equal(setenv("APX_SECURITY_CONTACT",
	    "mailto:env@example.test", 1), 0);
	assert_int_equal(setenv("APX_REGIONS_EU_CONNINFO", "dbname=eu", 1),
	    0);
	assert_int_equal(setenv("APX_HTTP_PUBLIC_ORIGIN",
	    "https://env.example.test", 1), 0);
	if (parse("security.expires = " FUTURE "\n", 1, &c, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(apx_secret_str(c->db_conninfo), "dbname=fromenv");
	assert_string_equal(apx_secret_str(c->db_admin_conninfo),
	    "dbname=fromenv");
	assert_string_equal(c->sec_contact.v[0], "mailto:env@example.test");
	apx_conf_free(c);
	/* Without use_env the same text lacks them. */
	expect_error("security.expires = " FUTURE "\n", 0,
	    "key 'db.conninfo': required but not set");
}

static void
test_env_bad_value(void **state)
{
	(void)state;
	assert_int_equal(setenv("APX_HTTP_MAX_BODY_BYTES", "lots", 1), 0);
	expect_error(MINIMAL, 1, "environment APX_HTTP_MAX_BODY_BYTES: key "
	    "'http.max_body_bytes': must be a whole number");
	/* The same text is fine when the environment is not read. */
	{
		struct apx_conf *c = NULL;
		char err[256];

		assert_int_equal(parse(MINIMAL, 0, &c, err, sizeof(err)), 0);
		apx_conf_free(c);
	}
	assert_int_equal(setenv("APX_HTTP_MAX_BODY_BYTES", "", 1), 0);
	expect_error(MINIMAL, 1, "environment APX_HTTP_MAX_BODY_BYTES: key "
	    "'http.max_body_bytes': empty value");
	unsetenv("APX_HTTP_MAX_BODY_BYTES");
	assert_int_equal(setenv("APX_HTTP_CORS_ORIGINS", "https://a.test/", 1),
	    0);
	expect_error(MINIMAL, 1, "environment APX_HTTP_CORS_ORIGINS: key "
	    "'http.cors_origins': entry 1 is not an origin");
}

/*
 * An expired security.expires that comes from the environment must be
 * blamed on the environment, like every other bad environment value --
 * not on the file (whose own value, here on line 3, is fine).
 */
static void
test_env_expires_past_names_environment(void **state)
{
	(void)state;
	assert_int_equal(setenv("APX_SECURITY_EXPIRES",
	    "2001-01-01T00:00:00Z", 1), 0);
	expect_error(MINIMAL, 1, "environment APX_SECURITY_EXPIRES: key "
	    "'security.expires': is in the past");
}

/* Sign-in providers: defaults, a loopback stand-in, and what is refused. */
static void
test_oidc(void **state)
{
	struct apx_conf *c = NULL;
	char err[512] = "";
	int use_env = *(int *)*state;

	if (parse(MINIMAL, use_env, &c, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_null(c->oidc[APX_OIDC_GOOGLE].client_id);
	assert_string_equal(c->oidc[APX_OIDC_GOOGLE].issuer,
	    "https://accounts.google.com");
	assert_string_equal(c->oidc[APX_OIDC_MICROSOFT].issuer,
	    "https://login.microsoftonline.com/{tenantid}/v2.0");
	assert_int_equal(c->oidc_cache_ttl, 3600);
	assert_int_equal(c->oidc_kid_refetch, 60);
	assert_false(c->sso_loopback_http);
	apx_conf_free(c);

	if (parse(MINIMAL "oidc.google.client_id = g\n"
	    "oidc.google.client_secret = s3cret\n"
	    "oidc.google.discovery_url = http://127.0.0.1:4000/.well-known/"
	    "openid-configuration\noidc.google.issuer = http://127.0.0.1:4000\n"
	    "oidc.microsoft.tenants = 11111111-1111-4111-8111-111111111111, "
	    "22222222-2222-4222-8222-222222222222\n"
	    "sso.allow_loopback_http = yes\n", use_env, &c, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(c->oidc[APX_OIDC_GOOGLE].client_id, "g");
	assert_string_equal(apx_secret_str(c->oidc[APX_OIDC_GOOGLE].
	    client_secret), "s3cret");
	assert_true(c->sso_loopback_http);
	apx_conf_free(c);

	expect_error(MINIMAL "oidc.google.client_id = g\n", use_env,
	    "oidc.google.client_secret': required with oidc.google.client_id");
	expect_error(MINIMAL "oidc.google.issuer = http://accounts.google.com"
	    "\n", use_env, "oidc.google.issuer': must be an https URL");
	expect_error(MINIMAL "oidc.microsoft.discovery_url = ftp://x/\n",
	    use_env, "oidc.microsoft.discovery_url': must be an https URL");
	expect_error(MINIMAL "oidc.microsoft.tenants = common\n", use_env,
	    "oidc.microsoft.tenants': a list of tenant ids");
	expect_error(MINIMAL "oidc.cache_ttl = 5\n", use_env,
	    "oidc.cache_ttl");
}

static void
test_env_name(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(apx_conf_env_name("db.conninfo", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "APX_DB_CONNINFO");
	assert_int_equal(apx_conf_env_name("http.max_body_bytes", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "APX_HTTP_MAX_BODY_BYTES");
	assert_int_equal(apx_conf_env_name("security.preferred_languages", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "APX_SECURITY_PREFERRED_LANGUAGES");
	/* "APX_A" + NUL needs 6 bytes. */
	assert_int_equal(apx_conf_env_name("a", buf, 6), 0);
	assert_string_equal(buf, "APX_A");
	assert_int_equal(apx_conf_env_name("ab", buf, 6), APX_ETOOBIG);
	assert_int_equal(apx_conf_env_name("a", buf, 4), APX_ETOOBIG);
	assert_int_equal(apx_conf_env_name("db.conninfo", buf, 15),
	    APX_ETOOBIG);
	assert_int_equal(apx_conf_env_name("db.conninfo", buf, 16), 0);
}

static void
test_error_buffer_small(void **state)
{
	struct apx_conf *c = NULL;
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse("nope = 1\n", 0, &c, err, sizeof(err)),
	    APX_ECONFIG);
	/* Truncated, always terminated. */
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "t.conf:1: key '", 15);
}

int
main(void)
{
	static int file_only = 0, with_env = 1;
#define T(f, s) { #f "/use_env=" #s, f, clear_env, clear_env, \
	    (s) ? &with_env : &file_only }
#define BOTH(f) T(f, 0), T(f, 1)
	const struct CMUnitTest tests[] = {
		BOTH(test_full_valid),
		BOTH(test_defaults),
		BOTH(test_unknown_key),
		BOTH(test_duplicate_key),
		BOTH(test_bad_int),
		BOTH(test_bad_values),
		BOTH(test_nul_byte_refused),
		BOTH(test_missing_required),
		BOTH(test_public_origin),
		T(test_where, 1),
		BOTH(test_expires_past),
		BOTH(test_expires_future),
		BOTH(test_cors_origins),
		BOTH(test_contacts),
		BOTH(test_secret_file),
		BOTH(test_secret_file_unreadable),
		BOTH(test_secret_not_in_error),
		T(test_env_overrides_file, 1),
		BOTH(test_regions),
		BOTH(test_oidc),
		T(test_regions_env, 1),
		T(test_env_supplies_required, 1),
		T(test_env_bad_value, 1),
		T(test_env_expires_past_names_environment, 1),
		T(test_env_name, 0),
		T(test_error_buffer_small, 0),
	};
#undef BOTH
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
