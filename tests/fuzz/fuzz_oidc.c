/*
 * Fuzz the OpenID relying party's parsers (auth/oidc.c): the first byte
 * picks discovery document, JWKS, or ID token (verified against a fixed
 * JWKS of one RSA and one EC key: the alg, kid and structure checks and
 * the claims of an unsigned token are all reached through the parse).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/oidc.h"
#include "core/apx.h"
#include "fuzz.h"

static const char fixed_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"e1\","
    "\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"kid\":\"o\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const algs[] = { "RS256", "PS256", "ES256" };
	static struct apx_oidc_jwks *jwks;
	struct apx_oidc_discovery d;
	struct apx_oidc_expect ex;
	struct apx_oidc_jwks *j;
	enum apx_oidc_reason why;
	const char *w;
	json_t *claims;
	size_t skipped;
	char *kid;

	if (jwks == NULL && apx_oidc_jwks_parse(fixed_jwks,
	    sizeof(fixed_jwks) - 1, &jwks, &skipped) != 0)
		__builtin_trap();	/* the fixed set must parse */
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (apx_oidc_discovery_parse((const char *)data + 1, size - 1,
		    &d, &w) == 0) {
			if (d.issuer == NULL || d.jwks_uri == NULL)
				__builtin_trap();
			apx_oidc_discovery_clear(&d);
		}
		break;
	case 1:
		if (apx_oidc_jwks_parse((const char *)data + 1, size - 1, &j,
		    &skipped) == 0) {
			if (apx_oidc_jwks_count(j) > APX_OIDC_KEYS_MAX)
				__builtin_trap();
			apx_oidc_jwks_free(j);
		}
		break;
	default:
		memset(&ex, 0, sizeof(ex));
		ex.issuer = "https://idp.example.test/{tenantid}/v2.0";
		ex.template = data[0] & 4;
		ex.client_id = "client-1";
		ex.nonce = "n";
		ex.algs = algs;
		ex.nalgs = 3;
		ex.now = 1800000000;
		kid = NULL;
		/* Nobody holds the private key: nothing may verify. */
		if (apx_oidc_id_token_verify(jwks, (const char *)data + 1,
		    size - 1, &ex, &claims, &why, &kid) == 0)
			__builtin_trap();
		free(kid);
		break;
	}
	return 0;
}
