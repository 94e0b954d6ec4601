/*
 * Common definitions for every area of the AccuPredix security core:
 * error codes, small macros, and the helpers that everything uses.
 */
#ifndef APX_CORE_APX_H
#define APX_CORE_APX_H

#include <stddef.h>
#include <stdint.h>

#define APX_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define APX_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Error codes: functions return 0 or one of these (negative). */
enum apx_err {
	APX_OK = 0,
	APX_ENOMEM = -1,	/* out of memory */
	APX_EINVAL = -2,	/* invalid input */
	APX_ETOOBIG = -3,	/* input over its size cap */
	APX_ENOTFOUND = -4,	/* no such thing */
	APX_EDBUNAVAIL = -5,	/* database unreachable */
	APX_EDB = -6,		/* database refused a statement */
	APX_EIO = -7,		/* read or write failed */
	APX_ECONFIG = -8,	/* configuration error */
	APX_ECRYPTO = -9,	/* crypto library failure */
	APX_ECONFLICT = -10,	/* state conflict */
	APX_EMIGRATION = -11,	/* schema newer/older than this binary */
	APX_EURITOOLONG = -12,	/* path or query over its cap */
	APX_EHEADERS = -13,	/* too many or too large header fields */
	APX_EUNAUTH = -14,	/* credentials or token refused */
	APX_ENOKEY = -15,	/* the vault has no key for this */
};

const char	*apx_strerror(int);

/* Bounded integer parse: whole string, base 10, within [min, max]. */
int	 apx_parse_ll(const char *, long long, long long, long long *);

/* Constant-time comparison of two byte strings (lengths may differ). */
int	 apx_ct_equal(const void *, size_t, const void *, size_t);

/* Wipe memory the compiler may not optimise away. */
void	 apx_wipe(void *, size_t);
/*
 * Bytes of the UTF-8 sequence at S (N bytes there), or 0 when it is not a
 * well-formed one (stray continuation, overlong, surrogate, over U+10FFFF,
 * cut short).
 */
size_t	 apx_utf8_seq(const unsigned char *, size_t);
/* The value of hex digit C (either case), or -1. */
int	 apx_hex_digit(int);
/* Characters of LEN bytes of well-formed UTF-8 into *CHARS; APX_EINVAL. */
int	 apx_utf8_chars(const char *, size_t, size_t *);

/* Fill with cryptographically random bytes. */
void	 apx_random(void *, size_t);
/* Random bytes for identifiers (not secrets), from a per-process pool. */
void	 apx_random_id(void *, size_t);
void	 apx_random_id_reset(void);

/*
 * FNV-1a over N bytes of P, continuing from H (start: APX_FNV_BASIS): for
 * hash tables, never for anything an attacker must not steer.
 */
#define APX_FNV_BASIS	2166136261u
uint32_t apx_fnv1a(uint32_t, const void *, size_t);

/* Monotonic and wall clocks. */
uint64_t apx_now_us(void);		/* monotonic microseconds */
int64_t	 apx_unix_now(void);		/* seconds since the epoch */

/* RFC 3339 UTC ("2027-01-31T12:00:00Z"); 0 on success. */
int	 apx_rfc3339_parse(const char *, int64_t *);
void	 apx_rfc3339_format(int64_t, char *, size_t);
/*
 * Any RFC 3339 date-time (fraction, offset, lower-case t and z): seconds
 * since the epoch and the fraction in microseconds (further digits cut).
 */
int	 apx_rfc3339_parse_us(const char *, int64_t *, int *);
/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC); LEN >= 28. */
void	 apx_rfc3339_format_us(int64_t, int, char *, size_t);

/* A GUID as 8-4-4-4-12 hex digits (either case): 1 yes, 0 no. */
int	 apx_guid_ok(const char *);

/* Copy with truncation check; 0 or APX_ETOOBIG. */
int	 apx_strlcpy_chk(char *, const char *, size_t);

#endif
