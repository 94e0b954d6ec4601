/*
 * Unit tests for auth/saml.c: Responses made and signed here with xmlsec
 * (an IdP key and certificate made here, another one as the attacker's),
 * then verified: the good ones (Assertion signed, Response signed, both,
 * the second certificate of a rotation) and one test per attack of
 * REFERENCE.md's SAML list: signature removed or by another key, content
 * changed after signing, XML signature wrapping (an evil Assertion beside
 * or instead of the signed one, in Extensions, in ds:Object, with the same
 * ID), a Reference to another element, a misplaced signature, SHA-1,
 * comment injection in NameID, DOCTYPE / XXE / billion laughs, wrong
 * Destination / Recipient / Audience / Issuer / Status, expired and
 * not-yet-valid, InResponseTo that differs, an oversize body.
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include "auth/saml.h"
#include "core/apx.h"

#define NOW	1800000000LL	/* 2027-01-15T08:00:00Z */
#define T_NOW	"2027-01-15T08:00:00Z"
#define T_PAST	"2027-01-15T07:50:00Z"
#define T_SOON	"2027-01-15T08:05:00Z"
#define T_LATER	"2027-01-15T09:00:00Z"
#define IDP	"https://idp.example.test/metadata"
#define SP	"https://app.example.test/api/v1/auth/sso/acme/saml/metadata"
#define ACS	"https://app.example.test/api/v1/auth/sso/acme/saml/acs"
#define REQ	"_req0123456789abcdef0123456789abcdef"

struct keypair {
	char	*key_pem;
	char	*cert_pem;
};

static struct keypair idp, idp2, evil;

/* ------------------------------------------------------------ material */

static void
make_keypair(struct keypair *kp, const char *cn)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *nm;
	BIO *b;
	char *p;
	long n;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365 * 20);
	X509_set_pubkey(x, k);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, nm);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	b = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(b, &p);
	kp->key_pem = strndup(p, (size_t)n);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_X509(b, x));
	n = BIO_get_mem_data(b, &p);
	kp->cert_pem = strndup(p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(apx_saml_init(), 0);
	make_keypair(&idp, "idp");
	make_keypair(&idp2, "idp-next");
	make_keypair(&evil, "attacker");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(idp.key_pem);
	free(idp.cert_pem);
	free(idp2.key_pem);
	free(idp2.cert_pem);
	free(evil.key_pem);
	free(evil.cert_pem);
	apx_saml_shutdown();
	return 0;
}

/* ------------------------------------------------------------ responses */

/* What a test changes in the Response it makes. */
struct resp {
	const char	*destination;
	const char	*issuer;
	const char	*status;
	const char	*recipient;
	const char	*audience;
	const char	*name_id;	/* raw XML content */
	const char	*not_before;
	const char	*not_on_or_after;
	const char	*scd_not_on_or_after;
	const char	*resp_irt;
	const char	*scd_irt;
	const char	*method;
	const char	*extra_in_response;	/* raw XML after Status */
};

static void
defaults(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	r->destination = ACS;
	r->issuer = IDP;
	r->status = "urn:oasis:names:tc:SAML:2.0:status:Success";
	r->recipient = ACS;
	r->audience = SP;
	r->name_id = "erin@example-agency.test";
	r->not_before = T_PAST;
	r->not_on_or_after = T_SOON;
	r->scd_not_on_or_after = T_SOON;
	r->resp_irt = REQ;
	r->scd_irt = REQ;
	r->method = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
	r->extra_in_response = "";
}

static char *
assertion_xml(const struct resp *r, const char *id, const char *nameid)
{
	char *s = NULL;

	assert_true(asprintf(&s,
	    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
	    "ID=\"%s\" Version=\"2.0\" IssueInstant=\"" T_NOW "\">"
	    "<saml:Issuer>%s</saml:Issuer>"
	    "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:"
	    "nameid-format:emailAddress\">%s</saml:NameID>"
	    "<saml:SubjectConfirmation Method=\"%s\"><saml:SubjectConfirmationData "
	    "NotOnOrAfter=\"%s\" Recipient=\"%s\"%s%s%s/></saml:SubjectConfirmation>"
	    "</saml:Subject>"
	    "<saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\">"
	    "<saml:AudienceRestriction><saml:Audience>%s</saml:Audience>"
	    "</saml:AudienceRestriction></saml:Conditions>"
	    "<saml:AuthnStatement AuthnInstant=\"" T_NOW "\" SessionIndex=\"_s1\">"
	    "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:"
	    "SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>"
	    "</saml:AuthnContext></saml:AuthnStatement>"
	    "<saml:AttributeStatement>"
	    "<saml:Attribute Name=\"email\"><saml:AttributeValue>%s"
	    "</saml:AttributeValue></saml:Attribute>"
	    "<saml:Attribute Name=\"displayName\"><saml:AttributeValue>Erin Agency"
	    "</saml:AttributeValue></saml:Attribute>"
	    "</saml:AttributeStatement></saml:Assertion>",
	    id, r->issuer, nameid, r->method, r->scd_not_on_or_after,
	    r->recipient, r->scd_irt != NULL ? " InResponseTo=\"" : "",
	    r->scd_irt != NULL ? r->scd_irt : "", r->scd_irt != NULL ? "\"" : "",
	    r->not_before, r->not_on_or_after, r->audience, nameid) > 0);
	return s;
}

static char *
response_xml(const struct resp *r, const char *assertion)
{
	char *s = NULL;

	assert_true(asprintf(&s,
	    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
	    "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_resp1\" "
	    "Version=\"2.0\" IssueInstant=\"" T_NOW "\" Destination=\"%s\"%s%s%s>"
	    "<saml:Issuer>%s</saml:Issuer>"
	    "<samlp:Status><samlp:StatusCode Value=\"%s\"/></samlp:Status>"
	    "%s%s</samlp:Response>",
	    r->destination, r->resp_irt != NULL ? " InResponseTo=\"" : "",
	    r->resp_irt != NULL ? r->resp_irt : "",
	    r->resp_irt != NULL ? "\"" : "", r->issuer, r->status,
	    r->extra_in_response, assertion) > 0);
	return s;
}

/*
 * Sign the element with ID ID of XML with KP, SHA-256 or SHA-1, the
 * Signature a direct child (after the Issuer) of the element with ID
 * PARENT (normally ID itself); the document as text.
 */
static char *
sign_in(const char *xml, const char *id, const char *parent,
    const struct keypair *kp, int sha1)
{
	static const xmlChar *ids[] = { BAD_CAST "ID", NULL };
	xmlDocPtr doc;
	xmlNodePtr el, sig, ref, issuer;
	xmlSecDSigCtxPtr ctx;
	xmlChar *out = NULL;
	char uri[128];
	int len = 0;
	char *s;

	doc = xmlReadMemory(xml, (int)strlen(xml), "t.xml", NULL, 0);
	assert_non_null(doc);
	xmlSecAddIDs(doc, xmlDocGetRootElement(doc), ids);
	el = (xmlNodePtr)xmlGetID(doc, (const xmlChar *)parent)->parent;
	assert_non_null(el);
	sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
	    sha1 ? xmlSecTransformRsaSha1Id : xmlSecTransformRsaSha256Id, NULL,
	    (const xmlChar *)"ds");
	assert_non_null(sig);
	for (issuer = el->children; issuer != NULL &&
	    (issuer->type != XML_ELEMENT_NODE ||
	    strcmp((const char *)issuer->name, "Issuer") != 0);
	    issuer = issuer->next)
		;
	if (issuer != NULL)
		xmlAddNextSibling(issuer, sig);
	else
		xmlAddChild(el, sig);
	snprintf(uri, sizeof(uri), "#%s", id);
	ref = xmlSecTmplSignatureAddReference(sig, sha1 ? xmlSecTransformSha1Id :
	    xmlSecTransformSha256Id, NULL, BAD_CAST uri, NULL);
	assert_non_null(ref);
	assert_non_null(xmlSecTmplReferenceAddTransform(ref,
	    xmlSecTransformEnvelopedId));
	assert_non_null(xmlSecTmplReferenceAddTransform(ref,
	    xmlSecTransformExclC14NId));
	ctx = xmlSecDSigCtxCreate(NULL);
	ctx->signKey = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)
	    kp->key_pem, (xmlSecSize)strlen(kp->key_pem), xmlSecKeyDataFormatPem,
	    NULL, NULL, NULL);
	assert_non_null(ctx->signKey);
	assert_true(xmlSecDSigCtxSign(ctx, sig) >= 0);
	xmlSecDSigCtxDestroy(ctx);
	xmlDocDumpMemory(doc, &out, &len);
	xmlFreeDoc(doc);
	s = strndup((const char *)out, (size_t)len);
	xmlFree(out);
	return s;
}

static char *
sign(const char *xml, const char *id, const struct keypair *kp, int sha1)
{
	return sign_in(xml, id, id, kp, sha1);
}

/* A Response with assertion "_a1" signed by KP (and the Response too when
 * BOTH), from R. */
static char *
make(const struct resp *r, const struct keypair *kp, int both)
{
	char *a = assertion_xml(r, "_a1", r->name_id), *x, *s;

	x = response_xml(r, a);
	free(a);
	s = sign(x, "_a1", kp, 0);
	free(x);
	if (both) {
		x = sign(s, "_resp1", kp, 0);
		free(s);
		s = x;
	}
	return s;
}

static const char *const emails[] = { "email" };
static const char *const names[] = { "displayName" };

static int
check(const char *xml, const char *cert1, const char *cert2,
    struct apx_saml_result *res, const char **why)
{
	const char *certs[2] = { cert1, cert2 };
	struct apx_saml_expect ex;

	memset(&ex, 0, sizeof(ex));
	ex.idp_entity_id = IDP;
	ex.sp_entity_id = SP;
	ex.acs_url = ACS;
	ex.certs_pem = certs;
	ex.ncerts = cert2 != NULL ? 2 : 1;
	ex.email_attrs = emails;
	ex.nemail_attrs = 1;
	ex.name_attrs = names;
	ex.nname_attrs = 1;
	ex.now = NOW;
	ex.skew = 60;
	return apx_saml_response_verify(xml, strlen(xml), &ex, res, why);
}

/* XML must be refused with reason WANT; frees XML. */
static void
refused(char *xml, const char *want)
{
	struct apx_saml_result res;
	const char *why = NULL;
	int rc;

	rc = check(xml, idp.cert_pem, NULL, &res, &why);
	if (rc != APX_EUNAUTH || why == NULL || strcmp(why, want) != 0)
		fail_msg("want refused '%s', got rc %d why '%s'", want, rc,
		    why != NULL ? why : "(none)");
	assert_null(res.name_id);
	free(xml);
}

/* Replace the first FROM in S by TO (a new string; S freed). */
static char *
replace(char *s, const char *from, const char *to)
{
	char *p = strstr(s, from), *o;
	size_t a, fl = strlen(from), tl = strlen(to);

	assert_non_null(p);
	a = (size_t)(p - s);
	o = malloc(strlen(s) - fl + tl + 1);
	memcpy(o, s, a);
	memcpy(o + a, to, tl);
	strcpy(o + a + tl, p + fl);
	free(s);
	return o;
}

/* ------------------------------------------------------------ good */

static void
test_assertion_signed(void **state)
{
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *x;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	if (check(x, idp.cert_pem, NULL, &res, &why) != 0)
		fail_msg("refused: %s", why);
	assert_string_equal(res.name_id, "erin@example-agency.test");
	assert_string_equal(res.name_id_format,
	    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
	assert_string_equal(res.email, "erin@example-agency.test");
	assert_string_equal(res.name, "Erin Agency");
	assert_string_equal(res.assertion_id, "_a1");
	assert_string_equal(res.in_response_to, REQ);
	assert_string_equal(res.session_index, "_s1");
	assert_int_equal(res.not_on_or_after, NOW + 300);
	apx_saml_result_clear(&res);
	free(x);
}

static void
test_response_and_both_signed(void **state)
{
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *a, *x, *s;

	(void)state;
	defaults(&r);
	a = assertion_xml(&r, "_a1", r.name_id);
	x = response_xml(&r, a);
	s = sign(x, "_resp1", &idp, 0);		/* only the Response */
	if (check(s, idp.cert_pem, NULL, &res, &why) != 0)
		fail_msg("refused: %s", why);
	apx_saml_result_clear(&res);
	free(a);
	free(x);
	free(s);
	s = make(&r, &idp, 1);			/* both */
	if (check(s, idp.cert_pem, NULL, &res, &why) != 0)
		fail_msg("refused: %s", why);
	apx_saml_result_clear(&res);
	free(s);
}

static void
test_rotation_second_certificate(void **state)
{
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *x;

	(void)state;
	defaults(&r);
	x = make(&r, &idp2, 0);
	assert_int_equal(check(x, idp.cert_pem, NULL, &res, &why),
	    APX_EUNAUTH);
	if (check(x, idp.cert_pem, idp2.cert_pem, &res, &why) != 0)
		fail_msg("refused: %s", why);
	apx_saml_result_clear(&res);
	free(x);
}

static void
test_unsolicited(void **state)
{
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *x;

	(void)state;
	defaults(&r);
	r.resp_irt = r.scd_irt = NULL;
	x = make(&r, &idp, 0);
	if (check(x, idp.cert_pem, NULL, &res, &why) != 0)
		fail_msg("refused: %s", why);
	assert_null(res.in_response_to);	/* the caller refuses it */
	apx_saml_result_clear(&res);
	free(x);
}

/* ------------------------------------------------------------ signatures */

static void
test_unsigned_refused(void **state)
{
	struct resp r;
	char *a;

	(void)state;
	defaults(&r);
	a = assertion_xml(&r, "_a1", r.name_id);
	refused(response_xml(&r, a), "unsigned");
	free(a);
}

static void
test_signature_removed(void **state)
{
	struct resp r;
	char *x, *p, *q;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	p = strstr(x, "<ds:Signature");
	q = strstr(x, "</ds:Signature>");
	assert_non_null(p);
	assert_non_null(q);
	memmove(p, q + strlen("</ds:Signature>"), strlen(q +
	    strlen("</ds:Signature>")) + 1);
	refused(x, "unsigned");
}

static void
test_attacker_key_refused(void **state)
{
	struct resp r;

	(void)state;
	defaults(&r);
	/* signed by the attacker, whose certificate rides in no KeyInfo we
	 * would read: only the configured certificate counts */
	refused(make(&r, &evil, 0), "signature");
}

static void
test_changed_after_signing(void **state)
{
	struct resp r;
	char *x;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	x = replace(x, ">erin@example-agency.test</saml:NameID>",
	    ">mallory@example-agency.test</saml:NameID>");
	refused(x, "signature");
}

static void
test_sha1_refused(void **state)
{
	struct resp r;
	char *a, *x, *s;

	(void)state;
	defaults(&r);
	a = assertion_xml(&r, "_a1", r.name_id);
	x = response_xml(&r, a);
	s = sign(x, "_a1", &idp, 1);
	free(a);
	free(x);
	refused(s, "signature-refused");
}

/* XSW: the signed Assertion moved into Extensions, an evil one in its
 * place (the counts catch it), and the same with the evil one's ID
 * equal to the signed one's (the ID check catches it). */
static void
test_wrapping_extensions(void **state)
{
	struct resp r;
	char *x, *signed_a, *evil_a, *p, *q, *wrapped;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	p = strstr(x, "<saml:Assertion");
	q = strstr(x, "</saml:Assertion>") + strlen("</saml:Assertion>");
	signed_a = strndup(p, (size_t)(q - p));
	evil_a = assertion_xml(&r, "_evil", "mallory@example-agency.test");
	assert_true(asprintf(&wrapped, "<samlp:Extensions>%s</samlp:Extensions>"
	    "%s", signed_a, evil_a) > 0);
	*p = '\0';
	{
		char *y;

		assert_true(asprintf(&y, "%s%s%s", x, wrapped, q) > 0);
		refused(y, "assertion-count");
	}
	free(evil_a);
	evil_a = assertion_xml(&r, "_a1", "mallory@example-agency.test");
	free(wrapped);
	assert_true(asprintf(&wrapped, "<samlp:Extensions>%s</samlp:Extensions>"
	    "%s", signed_a, evil_a) > 0);
	{
		char *y;

		assert_true(asprintf(&y, "%s%s%s", x, wrapped, q) > 0);
		refused(y, "duplicate-id");
	}
	free(wrapped);
	free(evil_a);
	free(signed_a);
	free(x);
}

/* XSW: an evil Assertion beside the signed one, and an evil unsigned
 * Assertion with the signed one hidden in the signature's ds:Object. */
static void
test_wrapping_two_assertions_and_object(void **state)
{
	struct resp r;
	char *x, *evil_a, *y;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	evil_a = assertion_xml(&r, "_evil", "mallory@example-agency.test");
	y = replace(strdup(x), "</samlp:Response>", "");
	{
		char *z;

		assert_true(asprintf(&z, "%s%s</samlp:Response>", y,
		    evil_a) > 0);
		refused(z, "assertion-count");
	}
	free(y);
	/* a Signature with the real assertion in ds:Object */
	y = replace(strdup(x), "</ds:Signature>", "<ds:Object>"
	    "<saml:Assertion ID=\"_obj\" Version=\"2.0\"/></ds:Object>"
	    "</ds:Signature>");
	refused(y, "assertion-count");
	free(evil_a);
	free(x);
}

/* A Signature that is not where it belongs, or whose Reference names
 * another element than the one it is a child of. */
static void
test_misplaced_and_foreign_reference(void **state)
{
	struct resp r;
	char *a, *x;

	(void)state;
	defaults(&r);
	/* the Response carries a signature over the Assertion */
	a = assertion_xml(&r, "_a1", r.name_id);
	x = response_xml(&r, a);
	free(a);
	refused(sign_in(x, "_a1", "_resp1", &idp, 0), "reference");
	free(x);
	/* a signature in Extensions */
	x = make(&r, &idp, 0);
	x = replace(x, "<samlp:Status>", "<samlp:Extensions><ds:Signature "
	    "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/></samlp:Extensions>"
	    "<samlp:Status>");
	refused(x, "signature-misplaced");
}

/* ------------------------------------------------------------ parsing */

static void
test_dtd_xxe_billion_laughs(void **state)
{
	struct resp r;
	char *x, *y;

	(void)state;
	defaults(&r);
	x = make(&r, &idp, 0);
	assert_true(asprintf(&y, "<!DOCTYPE r [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]>%s", x) > 0);
	refused(y, "dtd");
	assert_true(asprintf(&y, "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY "
	    "lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;\">]>%s",
	    x) > 0);
	refused(y, "dtd");
	free(x);
	refused(strdup("<samlp:Response"), "parse");
	refused(strdup("<a/>"), "not-a-response");
}

static void
test_comment_in_name_id(void **state)
{
	struct resp r;

	(void)state;
	defaults(&r);
	/* exclusive C14N drops comments: the signature still verifies, the
	 * text must not (user@example-agency.test.evil.example) */
	r.name_id = "erin@example-agency.test<!---->.evil.example";
	refused(make(&r, &idp, 0), "comment-in-text");
}

static void
test_oversize(void **state)
{
	struct apx_saml_result res;
	const char *why = NULL;
	char *big = malloc(APX_SAML_MAX + 2);

	(void)state;
	memset(big, ' ', APX_SAML_MAX + 1);
	big[APX_SAML_MAX + 1] = '\0';
	assert_int_equal(check(big, idp.cert_pem, NULL, &res, &why),
	    APX_ETOOBIG);
	free(big);
}

/* ------------------------------------------------------------ claims */

static void
test_claims_refused(void **state)
{
	struct resp r;

	(void)state;
	defaults(&r);
	r.destination = "https://evil.example/acs";
	refused(make(&r, &idp, 1), "destination");
	defaults(&r);
	r.recipient = "https://evil.example/acs";
	refused(make(&r, &idp, 0), "recipient");
	defaults(&r);
	r.audience = "https://other-sp.example/metadata";
	refused(make(&r, &idp, 0), "audience");
	defaults(&r);
	r.issuer = "https://other-idp.example/metadata";
	refused(make(&r, &idp, 0), "issuer");
	defaults(&r);
	r.status = "urn:oasis:names:tc:SAML:2.0:status:Requester";
	refused(make(&r, &idp, 1), "status");
	defaults(&r);
	r.method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
	refused(make(&r, &idp, 0), "bearer");
	defaults(&r);
	r.not_on_or_after = T_PAST;
	refused(make(&r, &idp, 0), "expired");
	defaults(&r);
	r.scd_not_on_or_after = T_PAST;
	refused(make(&r, &idp, 0), "expired");
	defaults(&r);
	r.not_before = T_LATER;
	refused(make(&r, &idp, 0), "not-yet-valid");
	defaults(&r);
	r.resp_irt = "_another0123456789abcdef0123456789ab";
	refused(make(&r, &idp, 0), "in-response-to");
}

static void
test_skew_is_honoured(void **state)
{
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *x;

	(void)state;
	defaults(&r);
	r.not_before = "2027-01-15T08:00:50Z";		/* 50 s ahead */
	x = make(&r, &idp, 0);
	if (check(x, idp.cert_pem, NULL, &res, &why) != 0)
		fail_msg("refused: %s", why);
	apx_saml_result_clear(&res);
	free(x);
	defaults(&r);
	r.not_before = "2027-01-15T08:01:10Z";		/* 70 s ahead */
	refused(make(&r, &idp, 0), "not-yet-valid");
}

/* ------------------------------------------------------------ metadata */

/* The base64 body of a PEM certificate, on one line. */
static char *
der_b64(const char *pem)
{
	const char *p = strstr(pem, "-----\n") + 6, *e = strstr(pem,
	    "-----END");
	char *o = malloc((size_t)(e - p) + 1);
	size_t n = 0;

	for (; p < e; p++)
		if (*p != '\n')
			o[n++] = *p;
	o[n] = '\0';
	return o;
}

static char *
metadata(const char *b64a, const char *b64b, const char *binding)
{
	char *x = NULL;

	assert_true(asprintf(&x,
	    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
	    "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"" IDP "\">"
	    "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:"
	    "SAML:2.0:protocol\">"
	    "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data>"
	    "<ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data>"
	    "</ds:KeyInfo></md:KeyDescriptor>"
	    "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data>"
	    "<ds:X509Certificate>\n%s\n</ds:X509Certificate></ds:X509Data>"
	    "</ds:KeyInfo></md:KeyDescriptor>%s%s%s"
	    "<md:SingleSignOnService Binding=\"%s\" Location=\"https://idp."
	    "example.test/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>",
	    b64a, b64b != NULL ? "<md:KeyDescriptor><ds:KeyInfo><ds:X509Data>"
	    "<ds:X509Certificate>" : "", b64b != NULL ? b64b : "", b64b != NULL ?
	    "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" :
	    "", binding) > 0);
	return x;
}

static void
test_idp_metadata(void **state)
{
	static const char redirect[] =
	    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
	struct apx_saml_idp idp_md;
	struct apx_saml_result res;
	struct resp r;
	const char *why = NULL;
	char *a = der_b64(idp.cert_pem), *b = der_b64(idp2.cert_pem), *x, *y;

	(void)state;
	x = metadata(a, b, redirect);
	if (apx_saml_idp_metadata(x, strlen(x), &idp_md, &why) != 0)
		fail_msg("refused: %s", why);
	assert_string_equal(idp_md.entity_id, IDP);
	assert_string_equal(idp_md.sso_url, "https://idp.example.test/sso");
	assert_int_equal(idp_md.ncerts, 2);	/* the encryption key skipped */
	/* the certificates it yields verify what their keys signed */
	defaults(&r);
	y = make(&r, &idp2, 0);
	if (check(y, idp_md.certs[0], idp_md.certs[1], &res, &why) != 0)
		fail_msg("refused with the imported certificates: %s", why);
	apx_saml_result_clear(&res);
	free(y);
	apx_saml_idp_clear(&idp_md);
	free(x);
	/* refusals */
	x = metadata(a, NULL, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST");
	assert_int_equal(apx_saml_idp_metadata(x, strlen(x), &idp_md, &why),
	    APX_EINVAL);
	assert_string_equal(why, "sso-url");
	free(x);
	x = metadata("not base64 !", NULL, redirect);
	assert_int_equal(apx_saml_idp_metadata(x, strlen(x), &idp_md, &why),
	    APX_EINVAL);
	assert_string_equal(why, "certificate");
	free(x);
	y = metadata(a, NULL, redirect);
	assert_true(asprintf(&x, "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/"
	    "passwd\">]>%s", y) > 0);
	assert_int_equal(apx_saml_idp_metadata(x, strlen(x), &idp_md, &why),
	    APX_EINVAL);
	assert_string_equal(why, "dtd");
	free(x);
	free(y);
	assert_int_equal(apx_saml_idp_metadata("<x/>", 4, &idp_md, &why),
	    APX_EINVAL);
	assert_string_equal(why, "entity-id");
	free(a);
	free(b);
}

/* The SP metadata signed with an SP key verifies with its certificate,
 * and not once changed. */
static void
test_sign_root(void **state)
{
	static const xmlChar *ids[] = { BAD_CAST "ID", NULL };
	static const char md[] = "<md:EntityDescriptor xmlns:md=\"urn:oasis:"
	    "names:tc:SAML:2.0:metadata\" ID=\"_md1\" entityID=\"" SP "\">"
	    "<md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:"
	    "tc:SAML:2.0:protocol\"/></md:EntityDescriptor>";
	xmlSecDSigCtxPtr ctx;
	xmlDocPtr doc;
	xmlNodePtr sig;
	char *out = NULL;
	int i;

	(void)state;
	assert_int_equal(apx_saml_sign_root(md, idp.key_pem, &out), 0);
	assert_non_null(strstr(out, "<ds:Signature"));
	for (i = 0; i < 2; i++) {
		if (i == 1)
			out = replace(out, "entityID=\"https://", "entityID=\"http://");
		doc = xmlReadMemory(out, (int)strlen(out), "m.xml", NULL, 0);
		assert_non_null(doc);
		xmlSecAddIDs(doc, xmlDocGetRootElement(doc), ids);
		sig = xmlSecFindNode(xmlDocGetRootElement(doc),
		    xmlSecNodeSignature, xmlSecDSigNs);
		assert_non_null(sig);
		ctx = xmlSecDSigCtxCreate(NULL);
		ctx->signKey = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)
		    idp.cert_pem, (xmlSecSize)strlen(idp.cert_pem),
		    xmlSecKeyDataFormatCertPem, NULL, NULL, NULL);
		assert_true(xmlSecDSigCtxVerify(ctx, sig) >= 0);
		assert_int_equal(ctx->status == xmlSecDSigStatusSucceeded, i == 0);
		xmlSecDSigCtxDestroy(ctx);
		xmlFreeDoc(doc);
	}
	free(out);
	assert_int_equal(apx_saml_sign_root("<a/>", idp.key_pem, &out),
	    APX_EINVAL);
	assert_int_equal(apx_saml_sign_root(md, "not a key", &out),
	    APX_ECRYPTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assertion_signed),
		cmocka_unit_test(test_response_and_both_signed),
		cmocka_unit_test(test_rotation_second_certificate),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_unsigned_refused),
		cmocka_unit_test(test_signature_removed),
		cmocka_unit_test(test_attacker_key_refused),
		cmocka_unit_test(test_changed_after_signing),
		cmocka_unit_test(test_sha1_refused),
		cmocka_unit_test(test_wrapping_extensions),
		cmocka_unit_test(test_wrapping_two_assertions_and_object),
		cmocka_unit_test(test_misplaced_and_foreign_reference),
		cmocka_unit_test(test_dtd_xxe_billion_laughs),
		cmocka_unit_test(test_comment_in_name_id),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_claims_refused),
		cmocka_unit_test(test_skew_is_honoured),
		cmocka_unit_test(test_idp_metadata),
		cmocka_unit_test(test_sign_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
