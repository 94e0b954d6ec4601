/* SAML 2.0 service provider, the pure part (saml.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "auth/saml.h"
#include "core/apx.h"

#define NS_P	"urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_A	"urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_DS	"http://www.w3.org/2000/09/xmldsig#"
#define NS_MD	"urn:oasis:names:tc:SAML:2.0:metadata"
#define REDIRECT "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
#define BEARER	"urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define SUCCESS	"urn:oasis:names:tc:SAML:2.0:status:Success"

#define IDS_MAX		256	/* elements with an ID attribute */
#define SIGS_MAX	4
#define DEPTH_MAX	64
#define ID_MAX		256

/* What one walk over the whole document found. */
struct scan {
	const xmlChar	*ids[IDS_MAX];
	size_t		 nids;
	xmlNodePtr	 assertion;
	size_t		 nassertions;
	size_t		 nencrypted;
	xmlNodePtr	 sigs[SIGS_MAX];
	size_t		 nsigs;
	int		 bad;		/* duplicate ID, too deep, too many */
	const char	*why;
};

static int		 inited;

static void	 quiet(void *, const char *, ...);
static void	 quiet_structured(void *, xmlErrorPtr);
static void	 quiet_xmlsec(const char *, int, const char *, const char *,
		    const char *, int, const char *);
static xmlParserInputPtr no_entities(const char *, const char *,
		    xmlParserCtxtPtr);
static int	 is_el(const xmlNode *, const char *, const char *);
static xmlNodePtr child(const xmlNode *, const char *, const char *,
		    size_t *);
static const char *attr(const xmlNode *, const char *);
static int	 text_of(const xmlNode *, char **, const char **);
static int	 text_max(const xmlNode *, size_t, char **, const char **);
static void	 scan(xmlNodePtr, struct scan *, int);
static int	 verify_one(xmlNodePtr, const char *, const char *,
		    const char **);
static int	 verify_sig(xmlNodePtr, const xmlNode *,
		    const struct apx_saml_expect *, const char **);
static int	 when(const xmlNode *, const char *, int64_t *);
static int	 check_response(const xmlNode *, const struct apx_saml_expect *,
		    const char **);
static int	 check_assertion(const xmlNode *, const xmlNode *,
		    const struct apx_saml_expect *, struct apx_saml_result *,
		    const char **);
static int	 attribute(const xmlNode *, const char *const *, size_t,
		    char **, const char **);
static xmlDocPtr wary_parse(const char *, size_t, const char **);
static char	*pem_of(const char *);

static void
quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static void
quiet_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

/* xmlsec reports every refusal through here: never to stderr (it may
 * quote the document). */
static void
quiet_xmlsec(const char *file, int line, const char *func,
    const char *obj, const char *subj, int reason, const char *msg)
{
	(void)file;
	(void)line;
	(void)func;
	(void)obj;
	(void)subj;
	(void)reason;
	(void)msg;
}

/* No external entity, DTD or schema is ever loaded. */
static xmlParserInputPtr
no_entities(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

int
apx_saml_init(void)
{
	if (inited)
		return 0;
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
	xmlSetStructuredErrorFunc(NULL, quiet_structured);
	xmlSetExternalEntityLoader(no_entities);
	if (xmlSecInit() < 0)
		return APX_ECRYPTO;
	xmlSecErrorsSetCallback(quiet_xmlsec);
	if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
	    xmlSecCryptoInit() < 0) {
		xmlSecShutdown();
		return APX_ECRYPTO;
	}
	inited = 1;
	return 0;
}

void
apx_saml_shutdown(void)
{
	if (!inited)
		return;
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
	inited = 0;
}

static int
is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0 &&
	    strcmp((const char *)n->name, name) == 0;
}

/* The first direct child element NS:NAME of P; *COUNT (may be NULL) how
 * many there are. */
static xmlNodePtr
child(const xmlNode *p, const char *ns, const char *name, size_t *count)
{
	xmlNodePtr c, first = NULL;
	size_t n = 0;

	for (c = p->children; c != NULL; c = c->next)
		if (is_el(c, ns, name)) {
			if (first == NULL)
				first = c;
			n++;
		}
	if (count != NULL)
		*count = n;
	return first;
}

/* An attribute without namespace, as stored (no copy), or NULL. */
static const char *
attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a;

	for (a = n->properties; a != NULL; a = a->next)
		if (a->ns == NULL && strcmp((const char *)a->name, name) == 0 &&
		    a->children != NULL && a->children->type == XML_TEXT_NODE &&
		    a->children->next == NULL)
			return (const char *)a->children->content;
	return NULL;
}

/*
 * The text of N: its text and CDATA children joined; a comment, a
 * processing instruction, an entity reference or an element inside is
 * refused (the comment-injection family: "user@evil<!---->.example").
 */
static int
text_of(const xmlNode *n, char **out, const char **why)
{
	return text_max(n, APX_SAML_TEXT_MAX, out, why);
}

static int
text_max(const xmlNode *n, size_t max, char **out, const char **why)
{
	const xmlNode *c;
	size_t len = 0, l;
	char *s;

	*out = NULL;
	for (c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_TEXT_NODE &&
		    c->type != XML_CDATA_SECTION_NODE) {
			*why = "comment-in-text";
			return APX_EUNAUTH;
		}
		len += c->content != NULL ? strlen((const char *)c->content) :
		    0;
		if (len > max) {
			*why = "text-too-long";
			return APX_EUNAUTH;
		}
	}
	if ((s = malloc(len + 1)) == NULL)
		return APX_ENOMEM;
	len = 0;
	for (c = n->children; c != NULL; c = c->next)
		if (c->content != NULL) {
			l = strlen((const char *)c->content);
			memcpy(s + len, c->content, l);
			len += l;
		}
	s[len] = '\0';
	*out = s;
	return 0;
}

/* Every element of the tree: IDs unique, Assertions and Signatures
 * wherever they are. */
static void
scan(xmlNodePtr n, struct scan *s, int depth)
{
	const char *id;
	size_t i;

	for (; n != NULL && !s->bad; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (depth > DEPTH_MAX) {
			s->bad = 1;
			s->why = "too-deep";
			return;
		}
		if ((id = attr(n, "ID")) != NULL) {
			for (i = 0; i < s->nids; i++)
				if (strcmp((const char *)s->ids[i], id) == 0) {
					s->bad = 1;
					s->why = "duplicate-id";
					return;
				}
			if (s->nids == IDS_MAX || strlen(id) > ID_MAX) {
				s->bad = 1;
				s->why = "too-many-ids";
				return;
			}
			s->ids[s->nids++] = (const xmlChar *)id;
		}
		if (is_el(n, NS_A, "Assertion")) {
			s->assertion = n;
			s->nassertions++;
		} else if (is_el(n, NS_A, "EncryptedAssertion"))
			s->nencrypted++;
		else if (is_el(n, NS_DS, "Signature")) {
			if (s->nsigs == SIGS_MAX) {
				s->bad = 1;
				s->why = "signature-count";
				return;
			}
			s->sigs[s->nsigs++] = n;
		}
		scan(n->children, s, depth + 1);
	}
}

/* One certificate against signature SIG, whose only Reference must be
 * "#" + ID. */
static int
verify_one(xmlNodePtr sig, const char *id, const char *cert,
    const char **why)
{
	xmlSecDSigCtxPtr ctx = NULL;
	xmlSecDSigReferenceCtxPtr ref;
	xmlSecKeyPtr key;
	int rc = APX_EUNAUTH;

	key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)cert,
	    (xmlSecSize)strlen(cert), xmlSecKeyDataFormatCertPem, NULL, NULL,
	    NULL);
	if (key == NULL) {
		*why = "certificate";
		return APX_EUNAUTH;
	}
	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL) {
		xmlSecKeyDestroy(key);
		return APX_ENOMEM;
	}
	ctx->signKey = key;	/* the configured certificate: KeyInfo unused */
	ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
	ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
	if (xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformInclC14NId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformSha256Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformSha384Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(ctx,
	    xmlSecTransformSha512Id) < 0)
		goto nomem;
	if (xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformExclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformInclC14NId) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformRsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformRsaSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformRsaSha512Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformEcdsaSha256Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformEcdsaSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(ctx,
	    xmlSecTransformEcdsaSha512Id) < 0)
		goto nomem;
	if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
		*why = "signature-refused";	/* algorithm, transform, URI */
		goto out;
	}
	if (ctx->status != xmlSecDSigStatusSucceeded) {
		*why = "signature";
		goto out;
	}
	if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1 ||
	    (ref = (xmlSecDSigReferenceCtxPtr)xmlSecPtrListGetItem(
	    &ctx->signedInfoReferences, 0)) == NULL || ref->uri == NULL ||
	    ref->uri[0] != '#' || strcmp((const char *)ref->uri + 1, id) != 0) {
		*why = "reference";
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	rc = APX_ENOMEM;
out:
	xmlSecDSigCtxDestroy(ctx);	/* and the key */
	return rc;
}

/*
 * Signature SIG, a direct child of ELEMENT, by one of the configured
 * certificates (two during a rotation), over ELEMENT itself.
 */
static int
verify_sig(xmlNodePtr sig, const xmlNode *element,
    const struct apx_saml_expect *ex, const char **why)
{
	const char *id = attr(element, "ID"), *w = "signature";
	size_t i;
	int rc = APX_EUNAUTH;

	if (sig->parent != element || id == NULL) {
		*why = "signature-misplaced";
		return APX_EUNAUTH;
	}
	for (i = 0; i < ex->ncerts && i < APX_SAML_CERTS_MAX; i++)
		if ((rc = verify_one(sig, id, ex->certs_pem[i], &w)) !=
		    APX_EUNAUTH)
			break;
	if (rc == APX_EUNAUTH)
		*why = w;
	return rc;
}

/* An xs:dateTime attribute NAME of N (required): 0, or APX_EUNAUTH. */
static int
when(const xmlNode *n, const char *name, int64_t *out)
{
	const char *v = attr(n, name);
	int us;

	if (v == NULL || strlen(v) > 40 || apx_rfc3339_parse_us(v, out, &us)
	    != 0)
		return APX_EUNAUTH;
	return 0;
}

static int
check_response(const xmlNode *r, const struct apx_saml_expect *ex,
    const char **why)
{
	const char *v;
	xmlNodePtr is, st, sc;
	char *t = NULL;
	size_t n;
	int rc;

	if ((v = attr(r, "Version")) == NULL || strcmp(v, "2.0") != 0) {
		*why = "version";
		return APX_EUNAUTH;
	}
	if ((v = attr(r, "Destination")) == NULL || strcmp(v, ex->acs_url) !=
	    0) {
		*why = "destination";
		return APX_EUNAUTH;
	}
	/* the Response's Issuer is optional; when there, it is the IdP */
	is = child(r, NS_A, "Issuer", &n);
	if (n > 1) {
		*why = "issuer";
		return APX_EUNAUTH;
	}
	if (is != NULL) {
		if ((rc = text_of(is, &t, why)) != 0)
			return rc;
		rc = strcmp(t, ex->idp_entity_id) == 0 ? 0 : APX_EUNAUTH;
		free(t);
		if (rc != 0) {
			*why = "issuer";
			return rc;
		}
	}
	if ((st = child(r, NS_P, "Status", &n)) == NULL || n != 1 ||
	    (sc = child(st, NS_P, "StatusCode", &n)) == NULL || n != 1 ||
	    (v = attr(sc, "Value")) == NULL || strcmp(v, SUCCESS) != 0) {
		*why = "status";
		return APX_EUNAUTH;
	}
	return 0;
}

/* The first value of the first attribute among NAMES, as text. */
static int
attribute(const xmlNode *a, const char *const *names, size_t nnames,
    char **out, const char **why)
{
	const xmlNode *st, *at, *v;
	const char *nm;
	size_t i;

	*out = NULL;
	for (i = 0; i < nnames; i++)
		for (st = a->children; st != NULL; st = st->next) {
			if (!is_el(st, NS_A, "AttributeStatement"))
				continue;
			for (at = st->children; at != NULL; at = at->next) {
				if (!is_el(at, NS_A, "Attribute") ||
				    (nm = attr(at, "Name")) == NULL ||
				    strcmp(nm, names[i]) != 0)
					continue;
				if ((v = child(at, NS_A, "AttributeValue",
				    NULL)) == NULL)
					continue;
				return text_of(v, out, why);
			}
		}
	return 0;
}

static int
check_assertion(const xmlNode *resp, const xmlNode *a,
    const struct apx_saml_expect *ex, struct apx_saml_result *out,
    const char **why)
{
	const xmlNode *is, *sub, *nid, *sc, *scd = NULL, *cond, *ar, *au,
	    *as;
	const char *v, *rirt;
	int64_t t, now = ex->now, skew = ex->skew;
	char *txt = NULL;
	size_t n;
	int rc, ok;

	if ((v = attr(a, "Version")) == NULL || strcmp(v, "2.0") != 0) {
		*why = "version";
		return APX_EUNAUTH;
	}
	if ((v = attr(a, "ID")) == NULL || (out->assertion_id = strdup(v)) ==
	    NULL)
		return v == NULL ? (*why = "assertion-id", APX_EUNAUTH) :
		    APX_ENOMEM;
	if ((is = child(a, NS_A, "Issuer", &n)) == NULL || n != 1) {
		*why = "issuer";
		return APX_EUNAUTH;
	}
	if ((rc = text_of(is, &txt, why)) != 0)
		return rc;
	ok = strcmp(txt, ex->idp_entity_id) == 0;
	free(txt);
	if (!ok) {
		*why = "issuer";
		return APX_EUNAUTH;
	}
	/* Subject: one NameID (never an EncryptedID), one bearer confirmation */
	if ((sub = child(a, NS_A, "Subject", &n)) == NULL || n != 1 ||
	    (nid = child(sub, NS_A, "NameID", &n)) == NULL || n != 1) {
		*why = "subject";
		return APX_EUNAUTH;
	}
	if ((rc = text_of(nid, &out->name_id, why)) != 0)
		return rc;
	if (out->name_id[0] == '\0') {
		*why = "subject";
		return APX_EUNAUTH;
	}
	if ((v = attr(nid, "Format")) != NULL &&
	    (out->name_id_format = strdup(v)) == NULL)
		return APX_ENOMEM;
	*why = "bearer";
	for (sc = sub->children; sc != NULL; sc = sc->next) {
		if (!is_el(sc, NS_A, "SubjectConfirmation") ||
		    (v = attr(sc, "Method")) == NULL || strcmp(v, BEARER) != 0)
			continue;
		if ((scd = child(sc, NS_A, "SubjectConfirmationData", &n)) ==
		    NULL || n != 1) {
			scd = NULL;
			continue;
		}
		if ((v = attr(scd, "Recipient")) == NULL ||
		    strcmp(v, ex->acs_url) != 0) {
			*why = "recipient";
			scd = NULL;
			continue;
		}
		if (when(scd, "NotOnOrAfter", &t) != 0 || t <= now - skew) {
			*why = "expired";
			scd = NULL;
			continue;
		}
		if (attr(scd, "NotBefore") != NULL && (when(scd, "NotBefore",
		    &t) != 0 || t > now + skew)) {
			*why = "not-yet-valid";
			scd = NULL;
			continue;
		}
		break;
	}
	if (scd == NULL)
		return APX_EUNAUTH;
	(void)when(scd, "NotOnOrAfter", &out->not_on_or_after);
	/* InResponseTo: the signed one; the Response's may not differ */
	v = attr(scd, "InResponseTo");
	rirt = attr(resp, "InResponseTo");
	if ((v == NULL) != (rirt == NULL) || (v != NULL && strcmp(v, rirt) !=
	    0)) {
		*why = "in-response-to";
		return APX_EUNAUTH;
	}
	if (v != NULL && (out->in_response_to = strdup(v)) == NULL)
		return APX_ENOMEM;
	/* Conditions: the window (with skew) and our Audience in every
	 * AudienceRestriction (at least one) */
	if ((cond = child(a, NS_A, "Conditions", &n)) == NULL || n != 1) {
		*why = "conditions";
		return APX_EUNAUTH;
	}
	if (attr(cond, "NotBefore") != NULL && (when(cond, "NotBefore", &t) !=
	    0 || t > now + skew)) {
		*why = "not-yet-valid";
		return APX_EUNAUTH;
	}
	if (attr(cond, "NotOnOrAfter") != NULL) {
		if (when(cond, "NotOnOrAfter", &t) != 0 || t <= now - skew) {
			*why = "expired";
			return APX_EUNAUTH;
		}
		if (t < out->not_on_or_after)
			out->not_on_or_after = t;
	}
	n = 0;
	for (ar = cond->children; ar != NULL; ar = ar->next) {
		if (!is_el(ar, NS_A, "AudienceRestriction"))
			continue;
		n++;
		ok = 0;
		for (au = ar->children; au != NULL && !ok; au = au->next) {
			if (!is_el(au, NS_A, "Audience"))
				continue;
			if ((rc = text_of(au, &txt, why)) != 0)
				return rc;
			ok = strcmp(txt, ex->sp_entity_id) == 0;
			free(txt);
		}
		if (!ok) {
			*why = "audience";
			return APX_EUNAUTH;
		}
	}
	if (n == 0) {
		*why = "audience";
		return APX_EUNAUTH;
	}
	if ((as = child(a, NS_A, "AuthnStatement", &n)) == NULL) {
		*why = "authn-statement";
		return APX_EUNAUTH;
	}
	if ((v = attr(as, "SessionIndex")) != NULL && strlen(v) <= ID_MAX &&
	    (out->session_index = strdup(v)) == NULL)
		return APX_ENOMEM;
	if ((rc = attribute(a, ex->email_attrs, ex->nemail_attrs, &out->email,
	    why)) != 0 || (rc = attribute(a, ex->name_attrs, ex->nname_attrs,
	    &out->name, why)) != 0)
		return rc;
	return 0;
}

int
apx_saml_response_verify(const char *xml, size_t len,
    const struct apx_saml_expect *ex, struct apx_saml_result *out,
    const char **why)
{
	static const xmlChar *idattrs[] = { BAD_CAST "ID", NULL };
	xmlParserCtxtPtr pctx = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, rsig, asig;
	struct scan s;
	size_t i, n;
	int rc;

	memset(out, 0, sizeof(*out));
	*why = "parse";
	if (xml == NULL || ex == NULL || ex->idp_entity_id == NULL ||
	    ex->sp_entity_id == NULL || ex->acs_url == NULL ||
	    ex->ncerts == 0 || ex->skew < 0 || ex->skew > APX_SAML_SKEW_MAX)
		return APX_EINVAL;
	if (len > APX_SAML_MAX) {
		*why = "too-big";
		return APX_ETOOBIG;
	}
	if (len == 0 || memchr(xml, '\0', len) != NULL)
		return APX_EUNAUTH;
	/* No DTD at all, before the parser sees one. */
	if (memmem(xml, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(xml, len, "<!ENTITY", 8) != NULL) {
		*why = "dtd";
		return APX_EUNAUTH;
	}
	if ((rc = apx_saml_init()) != 0)
		return rc;
	if ((pctx = xmlNewParserCtxt()) == NULL)
		return APX_ENOMEM;
	doc = xmlCtxtReadMemory(pctx, xml, (int)len, "response.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	rc = APX_EUNAUTH;
	if (doc == NULL || !pctx->wellFormed)
		goto out;
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		*why = "dtd";
		goto out;
	}
	if ((root = xmlDocGetRootElement(doc)) == NULL ||
	    !is_el(root, NS_P, "Response")) {
		*why = "not-a-response";
		goto out;
	}
	memset(&s, 0, sizeof(s));
	scan(root, &s, 0);
	if (s.bad) {
		*why = s.why;
		goto out;
	}
	if (s.nencrypted > 0) {
		*why = "encrypted-assertion";
		goto out;
	}
	if (s.nassertions != 1 || s.assertion->parent != root) {
		*why = "assertion-count";
		goto out;
	}
	/* Signatures: at most one as a direct child of the Response and one
	 * of the Assertion, and no other anywhere. */
	rsig = child(root, NS_DS, "Signature", &n);
	if (n > 1) {
		*why = "signature-count";
		goto out;
	}
	asig = child(s.assertion, NS_DS, "Signature", &n);
	if (n > 1) {
		*why = "signature-count";
		goto out;
	}
	for (i = 0; i < s.nsigs; i++)
		if (s.sigs[i] != rsig && s.sigs[i] != asig) {
			*why = "signature-misplaced";
			goto out;
		}
	if (rsig == NULL && asig == NULL) {
		*why = "unsigned";
		goto out;
	}
	/* IDs checked unique above: xmlSecAddIDs would skip a duplicate */
	xmlSecAddIDs(doc, root, idattrs);
	if ((rsig != NULL && (rc = verify_sig(rsig, root, ex, why)) != 0) ||
	    (asig != NULL && (rc = verify_sig(asig, s.assertion, ex, why)) !=
	    0))
		goto out;
	/* From here on, only inside the signed element(s). */
	if ((rc = check_response(root, ex, why)) != 0 ||
	    (rc = check_assertion(root, s.assertion, ex, out, why)) != 0)
		goto out;
	*why = NULL;
	rc = 0;
out:
	if (rc != 0)
		apx_saml_result_clear(out);
	if (doc != NULL)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(pctx);
	return rc;
}

void
apx_saml_result_clear(struct apx_saml_result *r)
{
	free(r->assertion_id);
	free(r->in_response_to);
	free(r->name_id);
	free(r->name_id_format);
	free(r->email);
	free(r->name);
	free(r->session_index);
	memset(r, 0, sizeof(*r));
}

/* One parse as for a Response: no DTD, no network, no recovery. */
static xmlDocPtr
wary_parse(const char *xml, size_t len, const char **why)
{
	xmlParserCtxtPtr pctx;
	xmlDocPtr doc;

	*why = "parse";
	if (len == 0 || memchr(xml, '\0', len) != NULL)
		return NULL;
	if (memmem(xml, len, "<!DOCTYPE", 9) != NULL ||
	    memmem(xml, len, "<!ENTITY", 8) != NULL) {
		*why = "dtd";
		return NULL;
	}
	if (apx_saml_init() != 0 || (pctx = xmlNewParserCtxt()) == NULL)
		return NULL;
	doc = xmlCtxtReadMemory(pctx, xml, (int)len, "metadata.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc != NULL && (!pctx->wellFormed || doc->intSubset != NULL ||
	    doc->extSubset != NULL)) {
		*why = doc->intSubset != NULL || doc->extSubset != NULL ?
		    "dtd" : "parse";
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(pctx);
	return doc;
}

/* A base64 DER certificate (whitespace allowed) as PEM, if OpenSSL would
 * read it: malloc'd, or NULL. */
static char *
pem_of(const char *b64)
{
	size_t n = strlen(b64), i, o = 0, col = 0;
	char *out;

	if (n == 0 || n > 16384 || (out = malloc(n + n / 64 + 64)) == NULL)
		return NULL;
	o += (size_t)sprintf(out, "-----BEGIN CERTIFICATE-----\n");
	for (i = 0; i < n; i++) {
		char ch = b64[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		    ch == '=')) {
			free(out);
			return NULL;
		}
		out[o++] = ch;
		if (++col == 64) {
			out[o++] = '\n';
			col = 0;
		}
	}
	if (col > 0)
		out[o++] = '\n';
	o += (size_t)sprintf(out + o, "-----END CERTIFICATE-----\n");
	out[o] = '\0';
	return out;
}

int
apx_saml_idp_metadata(const char *xml, size_t len, struct apx_saml_idp *out,
    const char **why)
{
	xmlDocPtr doc;
	xmlNodePtr root, idp, n, kd, ki, xd, xc;
	const char *v, *use;
	char *txt = NULL, *pem;
	size_t count;
	int rc = APX_EINVAL;

	memset(out, 0, sizeof(*out));
	if (len > APX_SAML_MAX) {
		*why = "too-big";
		return APX_ETOOBIG;
	}
	if ((doc = wary_parse(xml, len, why)) == NULL)
		return APX_EINVAL;
	root = xmlDocGetRootElement(doc);
	if (!is_el(root, NS_MD, "EntityDescriptor") || (v = attr(root,
	    "entityID")) == NULL || *v == '\0' || strlen(v) > 1024) {
		*why = "entity-id";
		goto out;
	}
	if ((out->entity_id = strdup(v)) == NULL)
		goto nomem;
	if ((idp = child(root, NS_MD, "IDPSSODescriptor", &count)) == NULL ||
	    count != 1) {
		*why = "sso-url";
		goto out;
	}
	for (n = idp->children; n != NULL; n = n->next)
		if (is_el(n, NS_MD, "SingleSignOnService") &&
		    (v = attr(n, "Binding")) != NULL && strcmp(v, REDIRECT) ==
		    0 && (v = attr(n, "Location")) != NULL && strlen(v) <= 2048) {
			if ((out->sso_url = strdup(v)) == NULL)
				goto nomem;
			break;
		}
	if (out->sso_url == NULL) {
		*why = "sso-url";
		goto out;
	}
	for (kd = idp->children; kd != NULL; kd = kd->next) {
		if (!is_el(kd, NS_MD, "KeyDescriptor") ||
		    ((use = attr(kd, "use")) != NULL && strcmp(use, "signing") !=
		    0))
			continue;
		if ((ki = child(kd, NS_DS, "KeyInfo", NULL)) == NULL ||
		    (xd = child(ki, NS_DS, "X509Data", NULL)) == NULL ||
		    (xc = child(xd, NS_DS, "X509Certificate", NULL)) == NULL)
			continue;
		if (out->ncerts == APX_SAML_CERTS_MAX) {
			*why = "too-many-certificates";
			goto out;
		}
		if ((rc = text_max(xc, 16384, &txt, why)) == APX_ENOMEM)
			goto nomem;
		rc = APX_EINVAL;
		if (txt == NULL || (pem = pem_of(txt)) == NULL) {
			free(txt);
			*why = "certificate";
			goto out;
		}
		free(txt);
		txt = NULL;
		out->certs[out->ncerts++] = pem;
	}
	if (out->ncerts == 0) {
		*why = "certificate";
		goto out;
	}
	*why = NULL;
	rc = 0;
	goto out;
nomem:
	rc = APX_ENOMEM;
out:
	if (rc != 0)
		apx_saml_idp_clear(out);
	xmlFreeDoc(doc);
	return rc;
}

void
apx_saml_idp_clear(struct apx_saml_idp *p)
{
	size_t i;

	free(p->entity_id);
	free(p->sso_url);
	for (i = 0; i < p->ncerts; i++)
		free(p->certs[i]);
	memset(p, 0, sizeof(*p));
}

int
apx_saml_sign_root(const char *xml, const char *key_pem, char **out)
{
	static const xmlChar *idattrs[] = { BAD_CAST "ID", NULL };
	xmlDocPtr doc = NULL;
	xmlNodePtr root, sig, ref;
	xmlSecDSigCtxPtr ctx = NULL;
	xmlSecKeyPtr key;
	xmlChar *dump = NULL;
	const char *id, *why;
	char uri[ID_MAX + 2];
	int len = 0, rc = APX_EINVAL;

	*out = NULL;
	if ((rc = apx_saml_init()) != 0)
		return rc;
	rc = APX_EINVAL;
	if ((doc = wary_parse(xml, strlen(xml), &why)) == NULL ||
	    (root = xmlDocGetRootElement(doc)) == NULL ||
	    (id = attr(root, "ID")) == NULL || strlen(id) > ID_MAX)
		goto out;
	rc = APX_ECRYPTO;
	key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)key_pem,
	    (xmlSecSize)strlen(key_pem), xmlSecKeyDataFormatPem, NULL, NULL,
	    NULL);
	if (key == NULL)
		goto out;
	if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL) {
		xmlSecKeyDestroy(key);
		goto out;
	}
	ctx->signKey = key;
	xmlSecAddIDs(doc, root, idattrs);
	sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
	    xmlSecKeyGetType(key) != xmlSecKeyDataTypeUnknown &&
	    xmlSecKeyCheckId(key, xmlSecKeyDataEcdsaId) ?
	    xmlSecTransformEcdsaSha256Id : xmlSecTransformRsaSha256Id, NULL,
	    (const xmlChar *)"ds");
	if (sig == NULL)
		goto out;
	/* the Signature comes first in an EntityDescriptor */
	if (root->children != NULL)
		xmlAddPrevSibling(root->children, sig);
	else
		xmlAddChild(root, sig);
	snprintf(uri, sizeof(uri), "#%s", id);
	if ((ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id,
	    NULL, (const xmlChar *)uri, NULL)) == NULL ||
	    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) ==
	    NULL || xmlSecTmplReferenceAddTransform(ref,
	    xmlSecTransformExclC14NId) == NULL ||
	    xmlSecDSigCtxSign(ctx, sig) < 0)
		goto out;
	xmlDocDumpMemory(doc, &dump, &len);
	if (dump == NULL || (*out = strndup((const char *)dump, (size_t)len)) ==
	    NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	rc = 0;
out:
	if (dump != NULL)
		xmlFree(dump);
	if (ctx != NULL)
		xmlSecDSigCtxDestroy(ctx);
	if (doc != NULL)
		xmlFreeDoc(doc);
	return rc;
}
