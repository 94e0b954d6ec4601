/*
 * IP addresses and networks (CIDR), lists of networks, and the client
 * address of a request behind trusted proxies (X-Forwarded-For). Pure
 * functions: no request objects, no allocation but the list's array.
 *
 * Parsing is strict: IPv4 only as a dotted quad without leading zeros,
 * prefix lengths in plain decimal, no blanks, zone ids, brackets or ports,
 * and at most APX_CIDR_ITEM_MAX bytes per item. Text is written in the
 * canonical form of RFC 5952 (lower case, longest zero run compressed,
 * IPv4-mapped addresses as ::ffff:a.b.c.d).
 */
#ifndef APX_AUTHZ_CIDR_H
#define APX_AUTHZ_CIDR_H

#include <stddef.h>

#define APX_CIDR_ITEM_MAX	64	/* bytes of one address or network */
#define APX_CIDR_LIST_MAX	1024	/* networks in one list */
#define APX_IP_STRLEN		46	/* an address as text, with its NUL */
#define APX_CIDR_STRLEN		50	/* the same plus "/128" */

struct apx_cidr {
	int		 family;	/* 4 or 6 */
	unsigned char	 addr[16];	/* network order; IPv4 in the first 4 bytes */
	int		 bits;		/* prefix length: 0-32 or 0-128 */
};

struct apx_cidr_list {
	struct apx_cidr	*v;
	size_t		 n;
};

/* An address ("192.0.2.1", "2001:db8::1"): bits = 32 / 128. 0 or APX_EINVAL. */
int	 apx_ip_parse(const char *, struct apx_cidr *);
/*
 * "net/len" or a bare address (= /32, /128). Host bits set ("10.0.0.1/8")
 * or any other malformation: APX_EINVAL.
 */
int	 apx_cidr_parse(const char *, struct apx_cidr *);
/*
 * Canonical text with its prefix length ("2001:db8::/32", "10.0.0.0/8",
 * "192.0.2.1/32"). 0, APX_ETOOBIG (the buffer then holds "") or APX_EINVAL
 * for a structure that no parse makes. APX_CIDR_STRLEN bytes always fit.
 */
int	 apx_cidr_format(const struct apx_cidr *, char *, size_t);
/*
 * The network that stands for client ADDR in throttles and "known
 * networks": an IPv4 address itself ("192.0.2.1/32"; IPv4-mapped IPv6 as
 * IPv4), an IPv6 address's /64 ("2001:db8:1:2::/64"), since one host
 * usually holds a whole /64. APX_EINVAL when ADDR is not an address.
 */
int	 apx_ip_net_key(const char *, char *, size_t);
/*
 * 1 when ADDR lies in NET (ADDR's own prefix length is not looked at).
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 networks as
 * its IPv4 address; different families otherwise never match.
 */
int	 apx_cidr_match(const struct apx_cidr *net, const struct apx_cidr *addr);

/*
 * A list of networks separated by spaces, tabs or commas (NULL or "" is
 * the empty list). On success the array is malloc'd (NULL when empty);
 * free it with apx_cidr_list_free. On failure the list is empty and
 * *BADIDX (if BADIDX is not NULL) is the 0-based index of the first bad
 * item: APX_EINVAL for an item that does not parse, APX_ETOOBIG past
 * APX_CIDR_LIST_MAX items (BADIDX then is APX_CIDR_LIST_MAX), APX_ENOMEM.
 */
int	 apx_cidr_list_parse(const char *, struct apx_cidr_list *,
	    size_t *badidx);
/* The same from an array of N strings (a NULL element is a bad item). */
int	 apx_cidr_list_from(const char *const *, size_t, struct apx_cidr_list *,
	    size_t *badidx);
/* Frees the array and empties the list; NULL is fine. */
void	 apx_cidr_list_free(struct apx_cidr_list *);
/* 1 when ADDR lies in any network of the list (NULL: the empty list). */
int	 apx_cidr_list_match(const struct apx_cidr_list *,
	    const struct apx_cidr *);

/*
 * The client address of a request: REMOTE (REMOTE_ADDR) unless it is in
 * TRUSTED; then X-Forwarded-For (XFF, the comma-joined header value, may be
 * NULL) is walked from the right, skipping entries that are trusted proxies:
 * the first untrusted entry is the client. An entry that does not parse as
 * an address (ports, brackets, zone ids, garbage, empty) stops the walk:
 * the client is then the last address that did parse (the nearest trusted
 * hop). If every entry is trusted, the left-most one is the client. Entries
 * are trimmed of spaces and tabs. At most 64 entries from the right are
 * examined (all trusted: the 64th is the client), and an XFF longer than
 * 8192 bytes is ignored as if there were none.
 *
 * OUT gets the canonical text of the address without a prefix length
 * ("192.0.2.7", "2001:db8::1"); an IPv4-mapped address is written as IPv4.
 * If REMOTE itself does not parse, OUT is a copy of REMOTE truncated to fit
 * and the return is still 0 (a NULL REMOTE counts as ""). APX_ETOOBIG when
 * the address does not fit OUT (OUT then holds ""): APX_IP_STRLEN bytes
 * always do. No allocation.
 */
int	 apx_client_addr(const struct apx_cidr_list *trusted, const char *remote,
	    const char *xff, char *out, size_t outlen);

#endif
