/*
 * TOTP (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 6 digits, 30-second
 * steps, a code accepted one step either side of now. Pure functions: the
 * key comes in, a step number goes out; remembering the last step used
 * (so that a code is never accepted twice) is the caller's. Also the
 * base32 (RFC 4648) that authenticator apps exchange keys in, and the
 * otpauth:// URI they scan as a QR code.
 */
#ifndef APX_AUTH_TOTP_H
#define APX_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define APX_TOTP_KEY_LEN	20	/* bytes: SHA-1's output size */
#define APX_TOTP_DIGITS		6
#define APX_TOTP_PERIOD		30
#define APX_TOTP_WINDOW		1	/* steps accepted either side of now */
/* base32 of a key of APX_TOTP_KEY_LEN bytes (32 characters) and its NUL */
#define APX_TOTP_SECRET_B32	(((APX_TOTP_KEY_LEN * 8 + 4) / 5) + 1)

/*
 * The HOTP value of KEY (LEN bytes) for COUNTER with DIGITS (6-8) decimal
 * digits, into *CODE. APX_EINVAL for a DIGITS out of range.
 */
int	 apx_totp_code(const unsigned char *, size_t, uint64_t, int,
	    uint32_t *);
/* The time step of NOW (seconds since the epoch). */
int64_t	 apx_totp_step(int64_t);
/*
 * Check CODE (exactly APX_TOTP_DIGITS ASCII digits) against KEY at time
 * NOW, one step either side. Steps at or before LAST (the last one the
 * user spent; -1: none) never match. 0 with *STEP the step that matched,
 * or APX_EUNAUTH. Every step of the window is computed and compared in
 * constant time, whatever matches.
 */
int	 apx_totp_verify(const unsigned char *, size_t, const char *, int64_t,
	    int64_t, int64_t *);

/*
 * base32 of LEN bytes (upper case, no padding) into OUT of OUTLEN bytes,
 * NUL-terminated: 0, or APX_ETOOBIG when OUT is short.
 */
int	 apx_base32_encode(const unsigned char *, size_t, char *, size_t);
/*
 * Decode base32 text of LEN bytes: either case, spaces, hyphens and
 * trailing '=' padding ignored. At most OUTLEN bytes into OUT, count in
 * *N. APX_EINVAL for any other character, for padding followed by
 * anything but padding, or for a length no encoder makes (leftover bits
 * that are not zero, or a lone 1, 3 or 6 characters of a final group);
 * APX_ETOOBIG when OUT is short.
 */
int	 apx_base32_decode(const char *, size_t, unsigned char *, size_t,
	    size_t *);

/*
 * otpauth://totp/ISSUER:ACCOUNT?secret=SECRET&issuer=ISSUER&algorithm=SHA1
 * &digits=6&period=30 into OUT (OUTLEN bytes, NUL-terminated), ISSUER and
 * ACCOUNT percent-encoded (all but RFC 3986's unreserved characters):
 * 0, or APX_ETOOBIG.
 */
int	 apx_totp_uri(const char *, const char *, const char *, char *,
	    size_t);

#endif
