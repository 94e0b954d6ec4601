/*
 * GET|PUT|DELETE /api/v1/orgs/{org}/sso: an Agency org's own OpenID
 * provider (issuer, client id, client secret sealed in the vault and
 * answered as set/unset, scopes, allowed algorithms, just-in-time
 * provisioning with a default role, enforcement). A PUT fetches the
 * provider's discovery document first: its issuer must be the one given.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/oidc.h"
#include "auth/oidc_rp.h"
#include "auth/saml.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "core/log.h"
#include "core/url.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/sso.h"
#include "vault/vault.h"

#define SECRET_MAX	1024
#define CLIENT_ID_MAX	255
#define SCOPES_MAX	10
#define SCOPE_MAX	64

static const char *const known[] = { "protocol", "enabled", "issuer",
    "discovery_url", "client_id", "client_secret", "scopes", "algorithms",
    "jit", "default_role", "enforce" };
static const char *const algs_ok[] = { "RS256", "PS256", "ES256" };

static int	 bad(struct apx_ctx *, const char *, const char *);
static int	 flag(struct apx_ctx *, json_t *, const char *, int, int *);
static int	 tokens(struct apx_ctx *, json_t *, const char *, int,
		    const char **);
static json_t	*with_redirect(struct apx_ctx *, json_t *);

static int
bad(struct apx_ctx *c, const char *field, const char *detail)
{
	(void)apx_resp_problem(c->resp, 422, "invalid-field", detail, field);
	return APX_EINVAL;
}

static int
flag(struct apx_ctx *c, json_t *body, const char *name, int def, int *out)
{
	json_t *v = json_object_get(body, name);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return bad(c, name, apx_arena_printf(c->req->arena, "%s is "
		    "true or false.", name));
	*out = json_is_true(v);
	return 0;
}

/*
 * Array NAME of BODY as a SQL array literal: 1..MAX tokens of visible
 * ASCII but quotes, backslash, comma and braces; ALGS: each one of
 * algs_ok. *OUT is DEFAULT when absent.
 */
static int
tokens(struct apx_ctx *c, json_t *body, const char *name, int algs,
    const char **out)
{
	json_t *a = json_object_get(body, name), *v;
	char buf[SCOPES_MAX * (SCOPE_MAX + 1) + 3];
	size_t i, j, o = 0;
	const char *s;
	int openid = 0;

	if (a == NULL)
		return 1;	/* the caller's default */
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > (algs ? APX_NELEM(algs_ok) : SCOPES_MAX))
		return bad(c, name, algs ? "algorithms: one to three of RS256, "
		    "PS256, ES256." : "scopes: one to ten scope names, openid "
		    "among them.");
	buf[o++] = '{';
	json_array_foreach(a, i, v) {
		if ((s = json_string_value(v)) == NULL || *s == '\0' ||
		    strlen(s) > SCOPE_MAX)
			return bad(c, name, "Each entry is a short string.");
		for (j = 0; s[j] != '\0'; j++)
			if (s[j] <= 0x20 || s[j] >= 0x7f ||
			    strchr("\"\\,{}", s[j]) != NULL)
				return bad(c, name, "An entry holds a character "
				    "a scope or algorithm name cannot.");
		if (algs) {
			for (j = 0; j < APX_NELEM(algs_ok); j++)
				if (strcmp(s, algs_ok[j]) == 0)
					break;
			if (j == APX_NELEM(algs_ok))
				return bad(c, name, "algorithms: RS256, PS256 "
				    "or ES256 (never none or HS*).");
		} else if (strcmp(s, "openid") == 0)
			openid = 1;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i > 0 ? "," : "", s);
	}
	if (!algs && !openid)
		return bad(c, name, "scopes must include openid.");
	snprintf(buf + o, sizeof(buf) - o, "}");
	*out = apx_arena_strdup(c->req->arena, buf);
	return *out != NULL ? 0 : APX_ENOMEM;
}

static json_t *
with_redirect(struct apx_ctx *c, json_t *v)
{
	if (v == NULL)
		v = json_pack("{s:n,s:b}", "protocol", "enabled", 0);
	if (v != NULL && c->conf->public_origin != NULL) {
		json_object_set_new(v, "redirect_uri", json_string(
		    apx_arena_printf(c->req->arena,
		    "%s/api/v1/auth/sso/%s/oidc/callback",
		    c->conf->public_origin, c->org->slug)));
		/* what a SAML IdP is told about us */
		json_object_set_new(v, "sp_entity_id", json_string(
		    apx_arena_printf(c->req->arena,
		    "%s/api/v1/auth/sso/%s/saml/metadata",
		    c->conf->public_origin, c->org->slug)));
		json_object_set_new(v, "acs_url", json_string(
		    apx_arena_printf(c->req->arena,
		    "%s/api/v1/auth/sso/%s/saml/acs",
		    c->conf->public_origin, c->org->slug)));
	}
	return v;
}

int
apx_route_sso_get(struct apx_ctx *c)
{
	json_t *v = NULL;
	int rc;

	if ((rc = apx_sso_get(c->db, c->org->id, &v)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, with_redirect(c, v));
}

static const char *const saml_known[] = { "protocol", "enabled",
    "idp_entity_id", "idp_sso_url", "idp_certificates", "idp_metadata",
    "attribute_email", "attribute_name", "jit", "default_role", "enforce" };

/*
 * An IdP metadata document in place of idp_entity_id, idp_sso_url and
 * idp_certificates: parsed as warily as a Response, its values put into
 * BODY (a copy the caller owns) for the checks that follow.
 */
static int
saml_from_metadata(struct apx_ctx *c, json_t *body)
{
	struct apx_saml_idp idp;
	const char *xml, *why = NULL;
	json_t *certs;
	size_t i;
	int rc;

	if (json_object_get(body, "idp_entity_id") != NULL ||
	    json_object_get(body, "idp_sso_url") != NULL ||
	    json_object_get(body, "idp_certificates") != NULL)
		return bad(c, "idp_metadata", "Give the IdP's metadata or its "
		    "entity id, SSO URL and certificates, not both.");
	if ((xml = json_string_value(json_object_get(body, "idp_metadata"))) ==
	    NULL)
		return bad(c, "idp_metadata", "The IdP's metadata is an XML "
		    "document in a string.");
	rc = apx_saml_idp_metadata(xml, json_string_length(json_object_get(body,
	    "idp_metadata")), &idp, &why);
	if (rc == APX_ENOMEM)
		return rc;
	if (rc != 0)
		return bad(c, "idp_metadata", apx_arena_printf(c->req->arena,
		    "The IdP's metadata was refused (%s): an EntityDescriptor "
		    "with an IDPSSODescriptor, an HTTP-Redirect "
		    "SingleSignOnService and one or two signing certificates, "
		    "without a DTD.", why != NULL ? why : "parse"));
	certs = json_array();
	for (i = 0; i < idp.ncerts; i++)
		json_array_append_new(certs, json_string(idp.certs[i]));
	json_object_set_new(body, "idp_entity_id", json_string(idp.entity_id));
	json_object_set_new(body, "idp_sso_url", json_string(idp.sso_url));
	json_object_set_new(body, "idp_certificates", certs);
	json_object_del(body, "idp_metadata");
	apx_saml_idp_clear(&idp);
	return 0;
}

/* A PEM certificate OpenSSL reads, RSA of 2048 bits or more or EC. */
static int
cert_ok(const char *pem)
{
	BIO *b;
	X509 *x;
	EVP_PKEY *k;
	int ok = 0;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		return 0;
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL &&
	    (k = X509_get0_pubkey(x)) != NULL)
		ok = (EVP_PKEY_base_id(k) == EVP_PKEY_RSA &&
		    EVP_PKEY_bits(k) >= 2048) || EVP_PKEY_base_id(k) ==
		    EVP_PKEY_EC;
	X509_free(x);
	BIO_free(b);
	return ok;
}

/*
 * PUT .../sso with protocol "saml": the IdP's entity id, its
 * HTTP-Redirect SSO URL, its signing certificates (one, or two during a
 * rotation; public) and the attributes of the email and the name.
 */
static int
sso_put_saml(struct apx_ctx *c, json_t *body)
{
	struct apx_sso_saml_put in;
	struct apx_audit_entry e;
	const char *k, *pem;
	json_t *a, *certs, *out = NULL;
	char *lit;
	size_t i, j, n = 2;
	int rc;

	memset(&in, 0, sizeof(in));
	json_object_foreach(body, k, a) {
		for (i = 0; i < APX_NELEM(saml_known); i++)
			if (strcmp(k, saml_known[i]) == 0)
				break;
		if (i == APX_NELEM(saml_known))
			return bad(c, k, "Not a field of a SAML configuration.");
	}
	if (json_object_get(body, "idp_metadata") != NULL &&
	    (rc = saml_from_metadata(c, body)) != 0)
		return rc;
	in.attr_email = "email";
	in.attr_name = "displayName";
	in.default_role = "viewer";
	if (apx_route_string(c, body, "idp_entity_id", 1024, 1,
	    &in.idp_entity_id, NULL) != 0 || apx_route_string(c, body,
	    "idp_sso_url", APX_OIDC_URL_MAX, 1, &in.idp_sso_url, NULL) != 0 ||
	    (json_object_get(body, "attribute_email") != NULL &&
	    apx_route_string(c, body, "attribute_email", 256, 1, &in.attr_email,
	    NULL) != 0) || (json_object_get(body, "attribute_name") != NULL &&
	    apx_route_string(c, body, "attribute_name", 256, 1, &in.attr_name,
	    NULL) != 0) || (json_object_get(body, "default_role") != NULL &&
	    apx_route_string(c, body, "default_role", 16, 1, &in.default_role,
	    NULL) != 0))
		return APX_EINVAL;
	for (k = in.idp_entity_id; *k != '\0'; k++)
		if ((unsigned char)*k < 0x20 || *k == 0x7f)
			return bad(c, "idp_entity_id", "The entity id holds a "
			    "control character.");
	if (!apx_url_remote_ok(in.idp_sso_url, c->conf->sso_loopback_http))
		return bad(c, "idp_sso_url", "The IdP's single sign-on URL is "
		    "an https URL.");
	if (strcmp(in.default_role, "viewer") != 0 && strcmp(in.default_role,
	    "analyst") != 0 && strcmp(in.default_role, "admin") != 0)
		return bad(c, "default_role", "default_role is viewer, analyst "
		    "or admin.");
	certs = json_object_get(body, "idp_certificates");
	if (!json_is_array(certs) || json_array_size(certs) < 1 ||
	    json_array_size(certs) > 2)
		return bad(c, "idp_certificates", "One or two PEM certificates "
		    "(two during a rotation).");
	json_array_foreach(certs, i, a) {
		if ((pem = json_string_value(a)) == NULL || strlen(pem) > 8192 ||
		    strchr(pem, '"') != NULL || strchr(pem, '\\') != NULL ||
		    !cert_ok(pem))
			return bad(c, "idp_certificates", "Each entry is a PEM "
			    "certificate (RSA of 2048 bits or more, or EC).");
		n += strlen(pem) + 3;
	}
	if ((lit = apx_arena_alloc(c->req->arena, n + 1)) == NULL)
		return APX_ENOMEM;
	j = 0;
	lit[j++] = '{';
	json_array_foreach(certs, i, a)
		j += (size_t)snprintf(lit + j, n + 1 - j, "%s\"%s\"", i > 0 ?
		    "," : "", json_string_value(a));
	snprintf(lit + j, n + 1 - j, "}");
	in.certs = lit;
	if ((rc = flag(c, body, "enabled", 1, &in.enabled)) != 0 ||
	    (rc = flag(c, body, "jit", 0, &in.jit)) != 0 ||
	    (rc = flag(c, body, "enforce", 0, &in.enforce)) != 0)
		return rc;
	in.user = c->auth != NULL ? c->auth->uid : 0;
	apx_authz_audit(c, &e, "sso.update", "sso:saml");
	if ((rc = apx_sso_put_saml(c->db, c->org->id, &in, &e, &out)) != 0)
		return rc;
	apx_log_info("rid=%s org %lld: SAML configuration saved",
	    c->req->request_id, (long long)c->org->id);
	return apx_resp_json(c->resp, 200, with_redirect(c, out));
}

int
apx_route_sso_put(struct apx_ctx *c)
{
	struct apx_sso_put in;
	struct apx_oidc_rp rp;
	struct apx_audit_entry e;
	struct apx_vault *v;
	const char *issuer, *disc = NULL, *cid, *secret = NULL, *proto = NULL;
	const char *role = "viewer", *why = NULL, *key, *algs[3], *k;
	unsigned char *sealed = NULL;
	char owner[32];
	size_t slen = 0, i, n;
	json_t *body, *out = NULL, *a;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (json_is_string(json_object_get(body, "protocol")) &&
	    strcmp(json_string_value(json_object_get(body, "protocol")),
	    "saml") == 0) {
		rc = sso_put_saml(c, body);
		json_decref(body);
		return rc == APX_EINVAL ? 0 : rc;
	}
	memset(&in, 0, sizeof(in));
	json_object_foreach(body, k, a) {
		for (i = 0; i < APX_NELEM(known); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == APX_NELEM(known)) {
			rc = bad(c, k, "Unknown field.");
			goto out;
		}
	}
	if ((json_object_get(body, "protocol") != NULL && apx_route_string(c,
	    body, "protocol", 8, 1, &proto, NULL) != 0) ||
	    apx_route_string(c, body, "issuer", APX_OIDC_URL_MAX, 1, &issuer,
	    NULL) != 0 ||
	    (json_object_get(body, "discovery_url") != NULL &&
	    apx_route_string(c, body, "discovery_url", APX_OIDC_URL_MAX, 1,
	    &disc, NULL) != 0) ||
	    apx_route_string(c, body, "client_id", CLIENT_ID_MAX, 1, &cid,
	    NULL) != 0 ||
	    (json_object_get(body, "client_secret") != NULL &&
	    apx_route_string(c, body, "client_secret", SECRET_MAX, 1, &secret,
	    NULL) != 0) ||
	    (json_object_get(body, "default_role") != NULL &&
	    apx_route_string(c, body, "default_role", 16, 1, &role, NULL) !=
	    0)) {
		rc = APX_EINVAL;
		goto out;
	}
	if (proto != NULL && strcmp(proto, "oidc") != 0) {
		rc = bad(c, "protocol", "protocol is oidc or saml.");
		goto out;
	}
	if (!apx_url_remote_ok(issuer, c->conf->sso_loopback_http)) {
		rc = bad(c, "issuer", "The issuer is an https URL of the "
		    "provider.");
		goto out;
	}
	if (disc == NULL) {
		n = strlen(issuer);
		disc = apx_arena_printf(c->req->arena, "%.*s/.well-known/"
		    "openid-configuration", (int)(n > 0 && issuer[n - 1] == '/'
		    ? n - 1 : n), issuer);
	}
	if (disc == NULL || !apx_url_remote_ok(disc, c->conf->sso_loopback_http)) {
		rc = disc == NULL ? APX_ENOMEM : bad(c, "discovery_url", "The "
		    "discovery URL is an https URL of the provider.");
		goto out;
	}
	for (i = 0; cid[i] != '\0'; i++)
		if (cid[i] < 0x20 || cid[i] == 0x7f) {
			rc = bad(c, "client_id", "client_id holds a control "
			    "character.");
			goto out;
		}
	if (strcmp(role, "viewer") != 0 && strcmp(role, "analyst") != 0 &&
	    strcmp(role, "admin") != 0) {
		rc = bad(c, "default_role", "default_role is viewer, analyst or "
		    "admin.");
		goto out;
	}
	in.issuer = issuer;
	in.discovery_url = disc;
	in.client_id = cid;
	in.default_role = role;
	in.scopes = "{openid,email,profile}";
	in.algorithms = "{RS256,ES256,PS256}";
	if ((rc = tokens(c, body, "scopes", 0, &in.scopes)) < 0 ||
	    (rc = tokens(c, body, "algorithms", 1, &in.algorithms)) < 0 ||
	    (rc = flag(c, body, "enabled", 1, &in.enabled)) != 0 ||
	    (rc = flag(c, body, "jit", 0, &in.jit)) != 0 ||
	    (rc = flag(c, body, "enforce", 0, &in.enforce)) != 0)
		goto out;
	/* The provider answers, and says it is this issuer. */
	memset(&rp, 0, sizeof(rp));
	n = 0;
	algs[0] = "RS256";
	key = apx_arena_printf(c->req->arena, "org:%lld",
	    (long long)c->org->id);
	rp.kind = APX_OIDC_KIND_ORG;
	rp.key = key;
	rp.discovery_url = disc;
	rp.issuer = issuer;
	rp.client_id = cid;
	rp.client_secret = "";
	rp.scope = "openid";
	rp.algs = algs;
	rp.nalgs = 1;
	rp.loopback_ok = c->conf->sso_loopback_http;
	rp.ttl = c->conf->oidc_cache_ttl;
	rp.refetch_interval = c->conf->oidc_kid_refetch;
	if (key == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (in.enabled && (rc = apx_oidc_rp_probe(&rp, &why)) != 0) {
		rc = apx_resp_problem(c->resp, 422, strcmp(why != NULL ? why :
		    "", "discovery-issuer") == 0 ? "issuer-mismatch" :
		    "discovery-failed", strcmp(why != NULL ? why : "",
		    "discovery-issuer") == 0 ? "The provider's discovery "
		    "document names another issuer." : "The provider's "
		    "discovery document could not be fetched or was refused.",
		    "issuer");
		goto out;
	}
	if (secret != NULL) {
		if ((rc = apx_vault_keyed(c->conf, &v)) != 0) {
			rc = apx_resp_problem(c->resp, 503, "vault-unavailable",
			    "The client secret cannot be sealed: the vault "
			    "has no key.", NULL);
			goto out;
		}
		snprintf(owner, sizeof(owner), "org:%lld",
		    (long long)c->org->id);
		if ((rc = apx_vault_seal(v, c->db, owner, APX_SSO_PURPOSE,
		    APX_SSO_RECORD, secret, strlen(secret), &sealed,
		    &slen)) != 0)
			goto out;
		in.secret = sealed;
		in.secret_len = slen;
	}
	in.user = c->auth != NULL ? c->auth->uid : 0;
	apx_authz_audit(c, &e, "sso.update", "sso:oidc");
	rc = apx_sso_put(c->db, c->org->id, &in, &e, &out);
	if (rc == APX_EINVAL) {
		rc = bad(c, "client_secret", "The provider's client secret is "
		    "required.");
		goto out;
	}
	if (rc != 0)
		goto out;
	apx_log_info("rid=%s org %lld: SSO configuration saved",
	    c->req->request_id, (long long)c->org->id);
	rc = apx_resp_json(c->resp, 200, with_redirect(c, out));
	out = NULL;
out:
	if (rc == APX_EINVAL)
		rc = 0;		/* answered */
	free(sealed);
	json_decref(out);
	json_decref(body);
	return rc;
}

int
apx_route_sso_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int rc;

	apx_authz_audit(c, &e, "sso.delete", "sso:oidc");
	if ((rc = apx_sso_delete(c->db, c->org->id, &e)) == APX_ENOTFOUND)
		return apx_resp_problem(c->resp, 404, "sso-not-configured",
		    "This organisation has no SSO configuration.", NULL);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}
