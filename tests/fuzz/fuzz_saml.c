/*
 * Fuzz the SAML service provider's parser and verifier (auth/saml.c): the
 * input is a Response document checked against a fixed certificate, so
 * that the parse, the DTD refusal, the ID, Assertion and Signature counts,
 * xmlsec's signature processing (transforms and algorithms allow-listed)
 * and the claim checks of a document that reaches them are all exercised.
 * Nothing may crash, leak or be accepted: no input here is signed by the
 * fixed certificate's key, which nobody has. An odd first byte feeds the
 * rest to the IdP metadata parser instead.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/saml.h"
#include "core/apx.h"
#include "fuzz.h"

/* A self-signed RSA-2048 certificate whose private key was thrown away. */
static const char cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDCTCCAfGgAwIBAgIUZU29aGoXEhcwI9idv0NrWxbxyz0wDQYJKoZIhvcNAQEL\n"
    "BQAwFDESMBAGA1UEAwwJZnV6ei1zYW1sMB4XDTI2MTIwMjE1MTQzN1oXDTQ2MTEy\n"
    "NzE1MTQzN1owFDESMBAGA1UEAwwJZnV6ei1zYW1sMIIBIjANBgkqhkiG9w0BAQEF\n"
    "AAOCAQ8AMIIBCgKCAQEApMEgehfhpzKYCsmlKv2U6QL2xYqGtvRcjF3829Lk6+Ja\n"
    "1gEzPuDtAwiNIuOxbiSMZVQXaYP29UEnfUz1KyXuP9EhclGAxcIzLcAjkbuQNhqL\n"
    "s5QbfwmXY3txWajuZLDY4DibrTbEJXsMlMvcs3sGf5xpIl4MOHf+npHOE3mRf6NM\n"
    "kbIpkCZZ7XGrScUvG9SpMcwtDf48/Piv9akiT4EJjcUZNIRRTw/VosjWN2guD6Cz\n"
    "6V6SDRDDMKMNuXlNQb5zHLPKuW34XXbytHpLPPm+zcOFC7rll+berbsrqyc1iBKq\n"
    "FdWXShaSNkTMf5xQgKVXXcZzg2ECabO1C/U4HF35MwIDAQABo1MwUTAdBgNVHQ4E\n"
    "FgQUMuLIj/DL+/TL3hI5vnvxnxviD08wHwYDVR0jBBgwFoAUMuLIj/DL+/TL3hI5\n"
    "vnvxnxviD08wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAIM+8\n"
    "+uMaCokHranK/LkYkW8UOc3lVJKZ4mJVTFUzP5vYCImZTAqVpvcHaS+jJz59UlSS\n"
    "DePVwLindQ6WAKWhzfWK7Wln/yuhGlWKCFWJ2ZKv3ol7MFrMo57YzTEVnp6vVRHN\n"
    "x//kCW9Y7gyX7mVStYSAfk4OIWqPe6irhURjGsVJWJ0E88hfD5X2n+z3YKojxERL\n"
    "BBg1FXYp426FiJFAXRcDch+DAUfLNjUJ3OzZWdKyYQyw7Yo2XxJaHAJYDI+SLbmH\n"
    "s0Q01vfutw3J5Sut3EwlCkzIZa77ymSHv5ZtbI8FTEA/mZi1XsOklqmTNSmdb1Bs\n"
    "dGpuHqCyXKX4EoIWRg==\n"
    "-----END CERTIFICATE-----\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const certs[1] = { cert };
	static const char *const email[] = { "email" };
	static const char *const name[] = { "displayName" };
	struct apx_saml_expect ex;
	struct apx_saml_result res;
	const char *why;
	char *doc;
	int rc;

	if (size > APX_SAML_MAX + 1)
		return 0;
	/* an odd first byte: an IdP metadata document (the rest) */
	if (size > 0 && (data[0] & 1)) {
		struct apx_saml_idp idp;

		if (apx_saml_idp_metadata((const char *)data + 1, size - 1,
		    &idp, &why) == 0) {
			if (idp.entity_id == NULL || idp.sso_url == NULL ||
			    idp.ncerts == 0 || idp.ncerts > APX_SAML_CERTS_MAX)
				__builtin_trap();
			apx_saml_idp_clear(&idp);
		}
		return 0;
	}
	if ((doc = malloc(size + 1)) == NULL)
		return 0;
	memcpy(doc, data, size);
	doc[size] = '\0';
	memset(&ex, 0, sizeof(ex));
	ex.idp_entity_id = "https://idp.example.test/metadata";
	ex.sp_entity_id = "https://app.example.test/api/v1/auth/sso/acme/saml/metadata";
	ex.acs_url = "https://app.example.test/api/v1/auth/sso/acme/saml/acs";
	ex.certs_pem = certs;
	ex.ncerts = 1;
	ex.email_attrs = email;
	ex.nemail_attrs = 1;
	ex.name_attrs = name;
	ex.nname_attrs = 1;
	ex.now = 1800000000;
	ex.skew = 60;
	rc = apx_saml_response_verify(doc, size, &ex, &res, &why);
	if (rc == 0)
		__builtin_trap();	/* accepted without the key */
	if (rc == APX_EUNAUTH && why == NULL)
		__builtin_trap();	/* every refusal says why */
	free(doc);
	return 0;
}
