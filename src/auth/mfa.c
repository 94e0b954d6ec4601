/*
 * The second factor (see mfa.h): enrolment, codes, recovery codes and the
 * gate of the sign-ins. The key is sealed for ("platform", "mfa", the
 * user's id): a sealed key copied to another user's row does not open.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/mfa.h"
#include "auth/session.h"
#include "core/apx.h"
#include "core/log.h"
#include "http/ctx.h"
#include "store/db.h"
#include "store/identity.h"
#include "store/mfa.h"
#include "vault/vault.h"

#define OWNER		"platform"
#define ISSUER		"AccuPredix"
#define RECOVERY_BYTES	10
#define URI_MAX		1024

static int	 open_key(struct apx_ctx *, int64_t, const struct apx_mfa_row *,
		    unsigned char *);
static int	 is_totp(const char *);
static void	 new_codes(char[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN +
		    1], unsigned char *);

/* The key of ROW (UID's), opened into KEY (APX_TOTP_KEY_LEN bytes). */
static int
open_key(struct apx_ctx *c, int64_t uid, const struct apx_mfa_row *row,
    unsigned char *key)
{
	struct apx_vault *v;
	char rec[APX_DB_ID_LEN];
	unsigned char *plain = NULL;
	size_t n = 0;
	int rc;

	if ((rc = apx_vault_keyed(c->conf, &v)) != 0)
		return rc;
	rc = apx_vault_open(v, c->db, OWNER, APX_MFA_PURPOSE,
	    apx_db_id(uid, rec), row->sealed, row->sealed_len, &plain, &n);
	if (rc == 0 && n != APX_TOTP_KEY_LEN)
		rc = APX_ECRYPTO;
	if (rc == 0)
		memcpy(key, plain, APX_TOTP_KEY_LEN);
	if (plain != NULL)
		apx_wipe(plain, n);
	free(plain);
	if (rc != 0)
		apx_log_error("user %lld: the second factor's key does not "
		    "open: %s", (long long)uid, apx_strerror(rc));
	return rc;
}

/* Six digits: a TOTP code; anything else is taken for a recovery code. */
static int
is_totp(const char *s)
{
	return strlen(s) == APX_TOTP_DIGITS &&
	    strspn(s, "0123456789") == APX_TOTP_DIGITS;
}

/*
 * Ten recovery codes into CODES and SHA-256 of each one's bytes into
 * HASHES (what is stored). The text is only the bytes' base32, lower
 * case in groups of four, so that apx_base32_decode reads it back from
 * whatever the user types.
 */
static void
new_codes(char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1],
    unsigned char *hashes)
{
	unsigned char raw[RECOVERY_BYTES];
	char b[(RECOVERY_BYTES * 8 + 4) / 5 + 1];
	int i, j, o;

	for (i = 0; i < APX_MFA_RECOVERY_CODES; i++) {
		apx_random(raw, sizeof(raw));
		(void)apx_base32_encode(raw, sizeof(raw), b, sizeof(b));
		for (j = o = 0; b[j] != '\0'; j++) {
			if (j > 0 && j % 4 == 0)
				codes[i][o++] = '-';
			codes[i][o++] = (char)(b[j] >= 'A' && b[j] <= 'Z' ?
			    b[j] - 'A' + 'a' : b[j]);
		}
		codes[i][o] = '\0';
		apx_session_hash_token((const char *)raw, sizeof(raw),
		    hashes + i * APX_MFA_HASH_LEN);
	}
	apx_wipe(raw, sizeof(raw));
	apx_wipe(b, sizeof(b));
}

int
apx_mfa_enrol(struct apx_ctx *c, const struct apx_user *u,
    char secret[APX_TOTP_SECRET_B32], const char **uri)
{
	struct apx_vault *v;
	unsigned char key[APX_TOTP_KEY_LEN], *sealed = NULL;
	char rec[APX_DB_ID_LEN], buf[URI_MAX];
	const char *issuer = c->conf->product_name != NULL &&
	    *c->conf->product_name != '\0' ? c->conf->product_name : ISSUER;
	size_t slen = 0;
	int rc;

	*uri = NULL;
	secret[0] = '\0';
	if ((rc = apx_vault_keyed(c->conf, &v)) != 0)
		return rc;
	apx_random(key, sizeof(key));
	if ((rc = apx_vault_seal(v, c->db, OWNER, APX_MFA_PURPOSE,
	    apx_db_id(u->id, rec), key, sizeof(key), &sealed, &slen)) != 0 ||
	    (rc = apx_base32_encode(key, sizeof(key), secret,
	    APX_TOTP_SECRET_B32)) != 0 ||
	    (rc = apx_totp_uri(issuer, u->email, secret, buf, sizeof(buf)))
	    != 0 ||
	    (rc = apx_mfa_begin(c->db, u->id, sealed, slen)) != 0)
		goto out;
	if ((*uri = apx_arena_strdup(c->req->arena, buf)) == NULL)
		rc = APX_ENOMEM;
out:
	apx_wipe(key, sizeof(key));
	apx_wipe(buf, sizeof(buf));
	free(sealed);
	if (rc != 0)
		apx_wipe(secret, APX_TOTP_SECRET_B32);
	return rc;
}

int
apx_mfa_confirm(struct apx_ctx *c, int64_t uid, const char *code,
    const struct apx_audit_entry *audit,
    char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1])
{
	struct apx_mfa_row row;
	unsigned char key[APX_TOTP_KEY_LEN];
	unsigned char hashes[APX_MFA_RECOVERY_CODES * APX_MFA_HASH_LEN];
	int64_t step;
	int rc;

	if ((rc = apx_mfa_get(c->db, uid, &row)) != 0)
		return rc;
	if (row.confirmed) {
		rc = APX_ECONFLICT;
		goto out;
	}
	if ((rc = open_key(c, uid, &row, key)) != 0)
		goto out;
	rc = apx_totp_verify(key, sizeof(key), code, apx_unix_now(),
	    row.last_step, &step);
	apx_wipe(key, sizeof(key));
	if (rc != 0)
		goto out;
	new_codes(codes, hashes);
	/* Only the key the code was checked against is confirmed. */
	rc = apx_mfa_confirm_key(c->db, uid, row.sealed, row.sealed_len, step,
	    hashes, APX_MFA_RECOVERY_CODES, audit);
	apx_wipe(hashes, sizeof(hashes));
	if (rc != 0)
		apx_wipe(codes, sizeof(codes[0]) * APX_MFA_RECOVERY_CODES);
out:
	apx_mfa_row_clear(&row);
	return rc;
}

int
apx_mfa_check(struct apx_ctx *c, int64_t uid, const char *code,
    struct apx_audit_entry *recovery)
{
	struct apx_mfa_row row;
	unsigned char key[APX_TOTP_KEY_LEN], raw[RECOVERY_BYTES + 1];
	unsigned char h[APX_MFA_HASH_LEN];
	int64_t step;
	size_t n = 0;
	int rc, left = 0;

	if ((rc = apx_mfa_get(c->db, uid, &row)) != 0)
		return rc;
	if (!row.confirmed) {
		rc = APX_ENOTFOUND;
		goto out;
	}
	if (is_totp(code)) {
		if ((rc = open_key(c, uid, &row, key)) != 0)
			goto out;
		rc = apx_totp_verify(key, sizeof(key), code, apx_unix_now(),
		    row.last_step, &step);
		apx_wipe(key, sizeof(key));
		/* The step is spent here, so that another request with the
		 * same code cannot pass too. */
		if (rc == 0 && (rc = apx_mfa_spend_step(c->db, uid, step)) ==
		    APX_ECONFLICT)
			rc = APX_EUNAUTH;
		goto out;
	}
	/* A recovery code: its bytes, whatever the case and the hyphens. */
	if (apx_base32_decode(code, strlen(code), raw, sizeof(raw), &n) != 0 ||
	    n != RECOVERY_BYTES) {
		rc = APX_EUNAUTH;
		goto out;
	}
	apx_session_hash_token((const char *)raw, n, h);
	apx_wipe(raw, sizeof(raw));
	rc = apx_mfa_recovery_spend(c->db, uid, h, recovery, &left);
	if (rc == APX_ENOTFOUND)
		rc = APX_EUNAUTH;
	if (rc == 0)
		apx_log_info("rid=%s user %lld used a recovery code; %d left",
		    c->req->request_id, (long long)uid, left);
out:
	apx_mfa_row_clear(&row);
	return rc;
}

int
apx_mfa_recovery_renew(struct apx_ctx *c, int64_t uid,
    const struct apx_audit_entry *audit,
    char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1])
{
	unsigned char hashes[APX_MFA_RECOVERY_CODES * APX_MFA_HASH_LEN];
	int rc;

	new_codes(codes, hashes);
	rc = apx_mfa_recovery_replace(c->db, uid, hashes,
	    APX_MFA_RECOVERY_CODES, audit);
	apx_wipe(hashes, sizeof(hashes));
	if (rc != 0)
		apx_wipe(codes, sizeof(codes[0]) * APX_MFA_RECOVERY_CODES);
	return rc;
}

int
apx_mfa_gate(struct apx_ctx *c, const struct apx_user *u,
    enum apx_mfa_via via, int *answered)
{
	unsigned char hash[APX_TOKEN_HASH_LEN];
	const char *ua = apx_req_header(c->req, "user-agent");
	char tok[64];
	int rc;

	*answered = 0;
	if ((rc = apx_mfa_enabled(c->db, u->id)) <= 0)
		return rc;
	if ((rc = apx_session_new_token(tok, sizeof(tok), hash)) != 0 ||
	    (rc = apx_mfa_challenge_create(c->db, u->id, hash,
	    via == APX_MFA_VIA_PROVIDER ? "oidc" : "pwd", ua != NULL ? ua : "",
	    c->req->remote_addr, APX_MFA_CHALLENGE_TTL)) != 0)
		goto out;
	apx_log_info("rid=%s user %lld: second factor needed",
	    c->req->request_id, (long long)u->id);
	*answered = 1;
	if (via == APX_MFA_VIA_PROVIDER) {
		/* The login page asks for the code and posts both to
		 * /api/v1/auth/mfa. */
		if ((rc = apx_resp_header_set(c->resp, "Location",
		    apx_arena_printf(c->req->arena, "%s/login?mfa=%s",
		    c->conf->public_origin, tok))) == 0) {
			c->resp->no_store = 1;
			c->resp->status = 303;
		}
		goto out;
	}
	rc = apx_resp_json(c->resp, 200, json_pack("{s:b,s:s,s:i}",
	    "mfa_required", 1, "challenge", tok, "expires_in",
	    APX_MFA_CHALLENGE_TTL));
out:
	apx_wipe(tok, sizeof(tok));
	return rc;
}
