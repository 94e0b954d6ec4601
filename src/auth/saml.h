/*
 * SAML 2.0 service provider, the pure part: one Response (HTTP-POST
 * binding, already base64-decoded) parsed and verified exactly as
 * REFERENCE.md's SAML checklist asks, without any I/O, so that the whole
 * parser and verifier is bounded, unit-tested and fuzzed.
 *
 * Parse: one parse, no recovery, no network, no DTD at all (internal or
 * external subset, refused before and after parsing), an external entity
 * loader that loads nothing, a size cap. Signature: by a configured IdP
 * certificate only (KeyInfo is never used), same-document references only,
 * an allow-list of transforms and algorithms (exclusive or inclusive C14N
 * without comments, enveloped-signature, SHA-256/384/512, RSA-SHA256+ and
 * ECDSA-SHA256+: no SHA-1, XPath or XSLT), exactly one Reference whose URI
 * is "#" + the ID of the element that carries the Signature as a direct
 * child; every ID in the document unique; exactly one Assertion, a child
 * of the Response; every ds:Signature of the document is one of the two
 * checked ones. Then data is read only from the signed element (node
 * pointers, no XPath): Issuer, Status, Destination, bearer
 * SubjectConfirmation with Recipient and NotOnOrAfter, InResponseTo,
 * Conditions with skew, Audience, AuthnStatement; NameID and attribute
 * values are text only (a comment or PI inside is refused).
 */
#ifndef APX_AUTH_SAML_H
#define APX_AUTH_SAML_H

#include <stddef.h>
#include <stdint.h>

#define APX_SAML_MAX		(256 * 1024)	/* decoded Response */
#define APX_SAML_SKEW_MAX	60
#define APX_SAML_CERTS_MAX	2		/* two during a rotation */
#define APX_SAML_TEXT_MAX	1024		/* NameID, attribute values */

struct apx_saml_expect {
	const char		*idp_entity_id;
	const char		*sp_entity_id;	/* our Audience */
	const char		*acs_url;	/* Destination, Recipient */
	const char *const	*certs_pem;	/* the IdP's signing certs */
	size_t			 ncerts;
	const char *const	*email_attrs;	/* attribute names of the email */
	size_t			 nemail_attrs;
	const char *const	*name_attrs;	/* of the display name */
	size_t			 nname_attrs;
	int64_t			 now;
	int			 skew;		/* seconds, at most 60 */
};

/* What a verified Response says (every string malloc'd or NULL). */
struct apx_saml_result {
	char	*assertion_id;		/* for the replay cache */
	int64_t	 not_on_or_after;	/* keep the ID until then */
	char	*in_response_to;	/* NULL: unsolicited */
	char	*name_id;
	char	*name_id_format;
	char	*email;			/* from the mapped attributes */
	char	*name;
	char	*session_index;
};

/*
 * Verify Response XML (LEN bytes). 0 with *OUT filled; APX_EUNAUTH with
 * *REASON (a short code for logs and audit: "dtd", "parse", "duplicate-id",
 * "assertion-count", "unsigned", "signature", "reference", "issuer",
 * "status", "destination", "recipient", "bearer", "expired",
 * "not-yet-valid", "audience", "comment-in-text", ...); APX_ETOOBIG over
 * APX_SAML_MAX; APX_EINVAL for a bad call; APX_ENOMEM. Never logs the XML.
 */
int	 apx_saml_response_verify(const char *, size_t,
	    const struct apx_saml_expect *, struct apx_saml_result *,
	    const char **);
void	 apx_saml_result_clear(struct apx_saml_result *);

/* What an IdP's metadata document says (strings malloc'd). */
struct apx_saml_idp {
	char	*entity_id;
	char	*sso_url;		/* HTTP-Redirect SingleSignOnService */
	char	*certs[APX_SAML_CERTS_MAX];	/* signing, PEM */
	size_t	 ncerts;
};
/*
 * Parse an IdP's metadata (an EntityDescriptor with an IDPSSODescriptor)
 * as warily as a Response: no DTD, no network, the same cap. 0, or
 * APX_EINVAL with *WHY ("dtd", "parse", "entity-id", "sso-url",
 * "certificate", "too-many-certificates"), APX_ETOOBIG, APX_ENOMEM.
 */
int	 apx_saml_idp_metadata(const char *, size_t, struct apx_saml_idp *,
	    const char **);
void	 apx_saml_idp_clear(struct apx_saml_idp *);

/*
 * Sign XML (an SP EntityDescriptor whose root has an ID attribute) with
 * KEY_PEM (RSA or EC private key), an enveloped Signature as the root's
 * first child (exclusive C14N, RSA-SHA256 or ECDSA-SHA256, SHA-256).
 * *OUT is malloc'd. 0, APX_EINVAL (not parsed, no ID), APX_ECRYPTO.
 */
int	 apx_saml_sign_root(const char *, const char *, char **);

/* Initialise libxml2 and xmlsec once per process (idempotent); 0 or
 * APX_ECRYPTO. Called by apx_saml_response_verify too. */
int	 apx_saml_init(void);
void	 apx_saml_shutdown(void);

#endif
