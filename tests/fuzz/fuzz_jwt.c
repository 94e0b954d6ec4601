/*
 * Fuzz the access-token parser and verifier: apx_jwt_decode (structure only)
 * and apx_jwt_verify against a keyring holding one fixed public key (the
 * corpus has tokens really signed by its private half, so the claim checks
 * are reached too).
 */
#include "config.h"

#include <string.h>

#include "auth/jwt.h"
#include "core/apx.h"
#include "fuzz.h"

/* Public half of the unit tests' fixed key (kid below, RFC 7638). */
static const char pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKi1PGisoLMS+eq9dYR8ICRZ29btu\n"
    "vzTqXP8jpDcY4Myfcezn/eb24sSAtJ7TzIAkLl1puTgvPEsS7wH1YZvfcw==\n"
    "-----END PUBLIC KEY-----\n";
#define FIXED_KID	"2u6oERco1exCFIiWiiKjmbXG2-N-G26jJeSFWOYHLJY"

static struct apx_jwt_keyring	*ring;

static const struct apx_jwt_keyring *get_ring(void);

static const struct apx_jwt_keyring *
get_ring(void)
{
	struct apx_jwt_key *k = NULL;

	if (ring != NULL)
		return ring;
	if ((ring = apx_jwt_keyring_new()) == NULL ||
	    apx_jwt_key_from_pem(pub_pem, sizeof(pub_pem) - 1, &k) != 0 ||
	    strcmp(apx_jwt_key_kid(k), FIXED_KID) != 0 ||
	    apx_jwt_keyring_add(ring, k, 0) != 0)
		__builtin_trap();
	return ring;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct apx_jwt_keyring *kr = get_ring();
	const struct apx_jwt_expect ex = {
		.typ = "at+jwt",
		.iss = "https://id.example",
		.aud = "accupredix",
		.now = 1700000100,
		.leeway = 60,
		.max_lifetime = 86400,
	};
	const char *tok = (const char *)data;
	json_t *hdr = (json_t *)1, *claims = (json_t *)1;
	enum apx_jwt_reason why = APX_JWT_OK;	/* must change on failure */
	int rc, drc;

	drc = apx_jwt_decode(tok, size, &hdr, &claims);
	if (drc == 0) {
		if (!json_is_object(hdr) || !json_is_object(claims) ||
		    size > APX_JWT_MAX_LEN)
			__builtin_trap();
	} else if (hdr != NULL || claims != NULL ||
	    (drc != APX_EINVAL && drc != APX_ENOMEM))
		__builtin_trap();
	json_decref(hdr);
	json_decref(claims);

	claims = (json_t *)1;
	rc = apx_jwt_verify(kr, tok, size, &ex, &claims, &why);
	if (rc == 0) {
		/* Accepted: everything the checks promise holds. */
		if (why != APX_JWT_OK || drc != 0 || !json_is_object(claims) ||
		    strcmp(json_string_value(json_object_get(claims, "iss")),
		    ex.iss) != 0 ||
		    json_string_length(json_object_get(claims, "sub")) == 0 ||
		    !json_is_integer(json_object_get(claims, "exp")))
			__builtin_trap();
		/* ...and the header really named our key and ES256. */
		if (apx_jwt_decode(tok, size, &hdr, NULL) != 0 ||
		    strcmp(json_string_value(json_object_get(hdr, "kid")),
		    FIXED_KID) != 0 ||
		    strcmp(json_string_value(json_object_get(hdr, "alg")),
		    "ES256") != 0)
			__builtin_trap();
		json_decref(hdr);
		json_decref(claims);
	} else {
		if (claims != NULL || why == APX_JWT_OK ||
		    (unsigned)why > (unsigned)APX_JWT_CLAIMS)
			__builtin_trap();
		if (rc == APX_EINVAL) {
			if (why != APX_JWT_MALFORMED)
				__builtin_trap();
		} else if (rc == APX_EUNAUTH) {
			if (why == APX_JWT_MALFORMED)
				__builtin_trap();
		} else if (rc != APX_ENOMEM)
			__builtin_trap();
		/* What does not even decode is never past the header. */
		if (drc != 0 && why > APX_JWT_SIGNATURE)
			__builtin_trap();
	}
	if (apx_jwt_reason_str(why) == NULL)
		__builtin_trap();
	return 0;
}
