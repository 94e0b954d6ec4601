/* GET /.well-known/security.txt (RFC 9116), from configuration. */
#include "config.h"

#include "auth/keys.h"
#include "core/buf.h"
#include "core/log.h"
#include "routes/routes.h"

int
apx_route_security_txt(struct apx_ctx *c)
{
	const struct apx_conf *cf = c->conf;
	struct apx_buf b = { 0 };
	char exp[32];
	size_t i;
	int rc = 0;

	if (cf->sec_expires <= apx_unix_now())
		apx_log_warn("security.expires is in the past: renew it");
	for (i = 0; i < cf->sec_contact.n && rc == 0; i++)
		rc = apx_buf_printf(&b, "Contact: %s\n", cf->sec_contact.v[i]);
	apx_rfc3339_format(cf->sec_expires, exp, sizeof(exp));
	if (rc == 0)
		rc = apx_buf_printf(&b, "Expires: %s\n", exp);
#define OPT(field, name) \
	if (rc == 0 && cf->field != NULL) \
		rc = apx_buf_printf(&b, name ": %s\n", cf->field)
	OPT(sec_encryption, "Encryption");
	OPT(sec_acknowledgments, "Acknowledgments");
	OPT(sec_languages, "Preferred-Languages");
	OPT(sec_canonical, "Canonical");
	OPT(sec_policy, "Policy");
	OPT(sec_hiring, "Hiring");
#undef OPT
	if (rc == 0)
		rc = apx_resp_text(c->resp, 200, "text/plain; charset=utf-8",
		    b.data, b.len);
	if (rc == 0)
		rc = apx_resp_header(c->resp, "Cache-Control",
		    "public, max-age=3600");
	apx_buf_free(&b);
	return rc;
}

/* GET /.well-known/jwks.json: public halves of the access-token keys. */
int
apx_route_jwks(struct apx_ctx *c)
{
	json_t *jwks;
	int rc;

	if ((rc = apx_keys_jwks(c->db, c->conf, &jwks)) != 0)
		return rc;
	if ((rc = apx_resp_json(c->resp, 200, jwks)) != 0)
		return rc;
	c->resp->no_store = 0;
	return apx_resp_header(c->resp, "Cache-Control", "public, max-age=300");
}

/*
 * GET /api/v1/client-config: what the pages under www/ adapt to, from
 * configuration only (nothing secret, nothing per user): the product's
 * name, which sign-in providers are configured (a button for each) and the
 * regions a new organisation may go to.
 */
int
apx_route_client_config(struct apx_ctx *c)
{
	const struct apx_conf *cf = c->conf;
	json_t *regions;
	size_t i;
	int rc;

	if ((regions = json_array()) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < cf->org_regions.n; i++)
		if (json_array_append_new(regions,
		    json_string(cf->org_regions.v[i])) != 0) {
			json_decref(regions);
			return APX_ENOMEM;
		}
	/* "o" steals regions, also when the pack fails */
	rc = apx_resp_json(c->resp, 200, json_pack("{s:s?, s:{s:b, s:b}, s:o}",
	    "product_name", cf->product_name,
	    "sign_in",
	    "google", cf->oidc[APX_OIDC_GOOGLE].client_id != NULL,
	    "microsoft", cf->oidc[APX_OIDC_MICROSOFT].client_id != NULL,
	    "regions", regions));
	if (rc != 0)
		return rc;
	c->resp->no_store = 0;
	return apx_resp_header(c->resp, "Cache-Control", "public, max-age=300");
}
