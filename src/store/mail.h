/*
 * The mail outbox of the control database (migration 0017): rows a
 * request queues and the sender (src/auth/mail.c) delivers.
 */
#ifndef APX_STORE_MAIL_H
#define APX_STORE_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apx_db;

/*
 * Queue a mail of KIND to TO for user UID (0: none) with its sealed
 * variables (SEALED, LEN bytes) under MSGID; the sender is woken (NOTIFY
 * apx_mail) when the transaction that holds this commits.
 */
int	 apx_outbox_put(struct apx_db *, const char *, int64_t, const char *,
	    const char *, const unsigned char *, size_t);

struct apx_outbox_row {
	int64_t		 id;
	char		 kind[33];
	char		 to_addr[256];
	char		 message_id[201];
	unsigned char	*sealed;	/* malloc'd */
	size_t		 sealed_len;
	int		 attempts;
};
void	 apx_outbox_row_clear(struct apx_outbox_row *);
/*
 * Take the next due mail for LEASE seconds (FOR UPDATE SKIP LOCKED); mails
 * tried MAX times are left alone. APX_ENOTFOUND when none is due.
 */
int	 apx_outbox_take(struct apx_db *, int, int, struct apx_outbox_row *);
/* Sent: the variables go, the row stays APX_MAIL_KEEP_DAYS. */
int	 apx_outbox_sent(struct apx_db *, int64_t);
/* Try mail ID again after DELAY seconds, noting WHY. */
int	 apx_outbox_retry(struct apx_db *, int64_t, int, const char *);
/*
 * Housekeeping: sent mails older than KEEP_DAYS, spent or dead account
 * tokens, and accounts unverified for TTL seconds that belong to no org
 * (*ACCOUNTS: how many went).
 */
int	 apx_outbox_purge(struct apx_db *, int, long long, long long *);
/* {"due": n, "failed": n, "sent_24h": n}; failed = tried MAX times. */
int	 apx_outbox_depth(struct apx_db *, int, json_t **);

#endif
