/*
 * Verified domains: GET|POST /api/v1/orgs/{org}/domains, POST
 * .../domains/{id}/verify (a DNS TXT lookup through dns.resolver), DELETE
 * .../domains/{id}. A verified domain belongs to one org.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/session.h"
#include "authz/authz.h"
#include "core/dns.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/domains.h"

#define TOKEN_BYTES	24	/* 32 base64url characters */

static int	 missing(struct apx_ctx *);

static int
missing(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 404, "domain-not-found",
	    "No such domain in this organisation.", NULL);
}

int
apx_route_domains_list(struct apx_ctx *c)
{
	json_t *l;
	int rc;

	if ((rc = apx_domain_list(c->db, c->org->id, &l)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, l);
}

int
apx_route_domains_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char raw[TOKEN_BYTES];
	char name[APX_DNS_NAME_MAX + 1], token[64];
	const char *domain;
	json_t *body, *d = NULL;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "domain", APX_DNS_NAME_MAX, 1, &domain,
	    NULL) != 0) {
		json_decref(body);
		return 0;
	}
	if (json_object_size(body) != 1 || apx_dns_name_norm(domain, name) !=
	    0) {
		json_decref(body);
		return apx_resp_problem(c->resp, 422, "invalid-field", "A DNS "
		    "domain name such as example.com: letters, digits and "
		    "hyphens, at least two labels, no trailing dot.", "domain");
	}
	json_decref(body);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	apx_authz_audit(c, &e, "domain.add", apx_arena_printf(c->req->arena,
	    "domain:%s", name));
	rc = apx_domain_add(c->db, c->org->id, name, token, c->auth != NULL ?
	    c->auth->uid : 0, &e, &d);
	if (rc == APX_ECONFLICT)
		return apx_resp_problem(c->resp, 409, "domain-exists", "This "
		    "organisation has claimed that domain already.", "domain");
	if (rc != 0)
		return rc;
	return apx_resp_json(c->resp, 201, json_pack("{s:o}", "domain", d));
}

int
apx_route_domain_verify(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	char txt[APX_DNS_NAME_MAX + 32];
	const char *name, *want;
	json_t *d = NULL, *v = NULL;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return missing(c);
	if ((rc = apx_domain_get(c->db, c->org->id, id, &d)) == APX_ENOTFOUND)
		return missing(c);
	if (rc != 0)
		return rc;
	name = json_string_value(json_object_get(d, "txt_name"));
	want = json_string_value(json_object_get(d, "txt_value"));
	snprintf(txt, sizeof(txt), "%s", name != NULL ? name : "");
	rc = apx_dns_txt_has(c->conf->dns_resolver, txt, want != NULL ? want :
	    "");
	if (rc == APX_EIO || rc == APX_EINVAL || rc == APX_ENOMEM) {
		apx_log_warn("rid=%s domain %lld: the resolver failed",
		    c->req->request_id, (long long)id);
		(void)apx_domain_failed(c->db, c->org->id, id,
		    "resolver_failed");
		(void)apx_resp_header_set(c->resp, "Retry-After", "30");
		rc = apx_resp_problem(c->resp, 503, "dns-unavailable", "The DNS "
		    "lookup failed or timed out; try again shortly.", NULL);
		goto out;
	}
	if (rc == APX_ENOTFOUND) {
		(void)apx_domain_failed(c->db, c->org->id, id,
		    "record_not_found");
		rc = apx_resp_problem(c->resp, 422, "domain-not-verified",
		    apx_arena_printf(c->req->arena, "No TXT record %s with the "
		    "value %s was found; publish it and ask again (DNS may "
		    "take a while).", txt, want != NULL ? want : ""), NULL);
		goto out;
	}
	if (rc != 0)
		goto out;
	apx_authz_audit(c, &e, "domain.verify", apx_arena_printf(
	    c->req->arena, "domain:%s", json_string_value(json_object_get(d,
	    "domain"))));
	rc = apx_domain_verified(c->db, c->org->id, id, &e, &v);
	if (rc == APX_ECONFLICT) {
		(void)apx_domain_failed(c->db, c->org->id, id, "domain_taken");
		rc = apx_resp_problem(c->resp, 409, "domain-taken", "Another "
		    "organisation has verified this domain.", NULL);
		goto out;
	}
	if (rc == APX_ENOTFOUND) {
		rc = missing(c);
		goto out;
	}
	if (rc == 0)
		rc = apx_resp_json(c->resp, 200, json_pack("{s:O}", "domain",
		    v));
out:
	json_decref(d);
	json_decref(v);
	return rc;
}

int
apx_route_domain_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return missing(c);
	apx_authz_audit(c, &e, "domain.remove", apx_arena_printf(
	    c->req->arena, "domain_id:%lld", (long long)id));
	if ((rc = apx_domain_delete(c->db, c->org->id, id, &e)) ==
	    APX_ENOTFOUND)
		return missing(c);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}
