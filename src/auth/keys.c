#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/keys.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/db.h"
#include "vault/vault.h"

#define RELOAD_EVERY_US		(60u * 1000 * 1000)
#define FORCE_MIN_US		(5u * 1000 * 1000)
#define MAX_PEM			8192

static struct apx_jwt_keyring	*cached;
static uint64_t			 loaded_us;
static uint64_t			 generation;	/* loads so far */

static int	 load(struct apx_db *, const struct apx_conf *,
		    struct apx_jwt_keyring **);
static int	 read_private(const char *, const char *, struct apx_jwt_key **);
static int	 open_private(struct apx_db *, const struct apx_conf *,
		    const char *, const char *, struct apx_jwt_key **);
static int	 vault_usable(const struct apx_conf *, struct apx_vault **);

/* The vault, if it can seal (a key, or plaintext mode for development). */
static int
vault_usable(const struct apx_conf *conf, struct apx_vault **v)
{
	char err[256];

	if (apx_vault_get(conf, v, err, sizeof(err)) != 0) {
		apx_log_error("%s", err);
		return 0;
	}
	return apx_vault_current(*v) > 0 || apx_vault_plaintext(*v);
}

/* The private half of KID from its sealed column (hex bytea text). */
static int
open_private(struct apx_db *db, const struct apx_conf *conf, const char *kid,
    const char *hex, struct apx_jwt_key **out)
{
	struct apx_vault *v;
	unsigned char *sealed = NULL, *pem = NULL;
	size_t n, plen = 0;
	int rc;

	if (!vault_usable(conf, &v))
		return APX_ENOKEY;
	if ((rc = apx_db_unhex(hex, MAX_PEM * 2, &sealed, &n)) != 0)
		return rc;
	rc = apx_vault_open(v, db, "platform", "jwt", kid, sealed, n, &pem,
	    &plen);
	free(sealed);
	if (rc != 0)
		return rc;
	rc = apx_jwt_key_from_pem((const char *)pem, plen, out);
	apx_wipe(pem, plen);
	free(pem);
	return rc;
}

static int
read_private(const char *dir, const char *kid, struct apx_jwt_key **out)
{
	char path[4096], *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc = APX_EIO;

	/* kid is a base64url thumbprint: no '/' or '.', checked anyway. */
	if (strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") != strlen(kid) || snprintf(path, sizeof(path),
	    "%s/%s.pem", dir, kid) >= (int)sizeof(path))
		return APX_EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? APX_ENOTFOUND : APX_EIO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > MAX_PEM)
		goto out;
	if ((st.st_mode & 077) != 0) {
		apx_log_error("%s is readable by others: refusing it", path);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((n = read(fd, buf, (size_t)st.st_size)) != st.st_size)
		goto out;
	rc = apx_jwt_key_from_pem(buf, (size_t)n, out);
out:
	if (buf != NULL) {
		apx_wipe(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

static int
load(struct apx_db *db, const struct apx_conf *conf,
    struct apx_jwt_keyring **out)
{
	struct apx_jwt_keyring *kr;
	struct apx_jwt_key *k;
	PGresult *res;
	int rc, r, have_current = 0;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT kid, public_pem, "
	    "retired_at IS NULL, private_sealed FROM jwt_keys WHERE "
	    "retired_at IS NULL OR "
	    "retired_at > now() - interval '1 day' ORDER BY created_at DESC",
	    0, NULL)) != 0)
		return rc;
	if ((kr = apx_jwt_keyring_new()) == NULL) {
		PQclear(res);
		return APX_ENOMEM;
	}
	for (r = 0; r < PQntuples(res); r++) {
		const char *kid = PQgetvalue(res, r, 0);
		int active = PQgetvalue(res, r, 2)[0] == 't', current = 0;

		k = NULL;
		/* The newest active key whose private half we hold signs:
		 * sealed by the vault, or (before the vault) a file. */
		if (!have_current && active && ((!PQgetisnull(res, r, 3) &&
		    open_private(db, conf, kid, PQgetvalue(res, r, 3), &k) ==
		    0) || (PQgetisnull(res, r, 3) && conf->jwt_key_dir !=
		    NULL && read_private(conf->jwt_key_dir, kid, &k) == 0))) {
			if (strcmp(apx_jwt_key_kid(k), kid) != 0) {
				apx_log_error("key file of %s holds another key",
				    kid);
				apx_jwt_key_free(k);
				k = NULL;
			} else
				current = 1;
		}
		if (k == NULL && apx_jwt_key_from_pem(PQgetvalue(res, r, 1),
		    (size_t)PQgetlength(res, r, 1), &k) != 0) {
			apx_log_error("jwt_keys row %s holds no usable key", kid);
			continue;
		}
		if (apx_jwt_keyring_add(kr, k, current) != 0) {
			apx_jwt_key_free(k);
			continue;
		}
		have_current |= current;
	}
	PQclear(res);
	*out = kr;
	return 0;
}

int
apx_keys_get(struct apx_db *db, const struct apx_conf *conf, int force,
    const struct apx_jwt_keyring **out)
{
	struct apx_jwt_keyring *kr;
	uint64_t now = apx_now_us();
	int rc;

	if (cached == NULL || now - loaded_us > RELOAD_EVERY_US ||
	    (force && now - loaded_us > FORCE_MIN_US)) {
		if ((rc = load(db, conf, &kr)) != 0) {
			if (cached == NULL)
				return rc;
			/* Keep serving with the keys we have. */
		} else {
			apx_jwt_keyring_free(cached);
			cached = kr;
			loaded_us = now;
			generation++;
		}
	}
	*out = cached;
	return 0;
}

uint64_t
apx_keys_generation(void)
{
	return generation;
}

int
apx_keys_jwks(struct apx_db *db, const struct apx_conf *conf, json_t **out)
{
	const struct apx_jwt_keyring *kr;
	int rc;

	if ((rc = apx_keys_get(db, conf, 0, &kr)) != 0)
		return rc;
	return apx_jwt_jwks(kr, out);
}

int
apx_keys_rotate(struct apx_db *db, const struct apx_conf *conf, char *kid,
    size_t kidlen, char *err, size_t errlen)
{
	struct apx_jwt_key *k = NULL;
	struct apx_secret *priv = NULL;
	struct apx_vault *v = NULL;
	unsigned char *sealed = NULL;
	char path[4096], *pub = NULL, *hx = NULL;
	const char *p[3];
	struct stat st;
	size_t slen = 0;
	int fd = -1, rc, use_vault;

	path[0] = '\0';
	use_vault = vault_usable(conf, &v);
	if (!use_vault && conf->jwt_key_dir == NULL) {
		snprintf(err, errlen, "the vault has no key (vault.keys) and "
		    "jwt.key_dir is not configured: nowhere to keep a private "
		    "key");
		return APX_ECONFIG;
	}
	if (!use_vault && (stat(conf->jwt_key_dir, &st) == -1 ||
	    !S_ISDIR(st.st_mode))) {
		snprintf(err, errlen, "%s is not a directory", conf->jwt_key_dir);
		return APX_ECONFIG;
	}
	if ((rc = apx_jwt_key_generate(&k)) != 0 ||
	    (rc = apx_jwt_key_private_pem(k, &priv)) != 0 ||
	    (rc = apx_jwt_key_public_pem(k, &pub)) != 0) {
		snprintf(err, errlen, "key generation failed");
		goto out;
	}
	if (use_vault) {
		/* Sealed for ("platform", "jwt", kid): stored in its row. */
		if ((rc = apx_vault_seal(v, db, "platform", "jwt",
		    apx_jwt_key_kid(k), priv->data, priv->len, &sealed, &slen))
		    != 0) {
			snprintf(err, errlen, "cannot seal the private key: %s",
			    apx_strerror(rc));
			goto out;
		}
		if ((hx = malloc(2 * slen + 3)) == NULL) {
			rc = APX_ENOMEM;
			goto out;
		}
		apx_db_hex(sealed, slen, hx);
	} else {
		apx_log_warn("the vault has no key: the private signing key "
		    "goes into a file of %s", conf->jwt_key_dir);
		snprintf(path, sizeof(path), "%s/%s.pem", conf->jwt_key_dir,
		    apx_jwt_key_kid(k));
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600)) == -1 ||
		    write(fd, priv->data, priv->len) != (ssize_t)priv->len ||
		    fchown(fd, st.st_uid, st.st_gid) == -1 || fsync(fd) == -1) {
			snprintf(err, errlen, "cannot write %s: %s", path,
			    strerror(errno));
			if (fd != -1)
				unlink(path);
			path[0] = '\0';
			rc = APX_EIO;
			goto out;
		}
	}
	p[0] = apx_jwt_key_kid(k);
	p[1] = pub;
	p[2] = hx;
	if ((rc = apx_db_begin(db)) != 0)
		goto dbfail;
	if ((rc = apx_db_do(db, 0, "INSERT INTO jwt_keys (kid, public_pem, "
	    "private_sealed) VALUES ($1, $2, $3::bytea)", 3, p)) != 0)
		goto dbfail;
	{
		struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "operator",
		    "accupredix-admin", "jwt.rotate", apx_jwt_key_kid(k), "",
		    "", NULL, NULL };

		if ((rc = apx_audit_append(db, &e)) != 0)
			goto dbfail;
	}
	/* Keep the new key and the one before it; retire the rest. */
	if ((rc = apx_db_do(db, 0, "UPDATE jwt_keys SET retired_at = "
	    "now() WHERE retired_at IS NULL AND kid NOT IN (SELECT kid FROM "
	    "jwt_keys WHERE retired_at IS NULL ORDER BY created_at DESC "
	    "LIMIT 2)", 0, NULL)) != 0)
		goto dbfail;
	if ((rc = apx_db_commit(db)) != 0)
		goto dbfail;
	(void)apx_strlcpy_chk(kid, apx_jwt_key_kid(k), kidlen);
	rc = 0;
	goto out;
dbfail:
	apx_db_rollback(db);
	if (path[0] != '\0')
		unlink(path);
	snprintf(err, errlen, "cannot store the key: %s", apx_strerror(rc));
out:
	if (fd != -1)
		close(fd);
	if (sealed != NULL) {
		apx_wipe(sealed, slen);
		free(sealed);
	}
	free(hx);
	free(pub);
	apx_secret_free(priv);
	apx_jwt_key_free(k);
	return rc;
}
