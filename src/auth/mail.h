/*
 * Mail to users: the outbox a request writes to, the messages built from
 * the templates of data/mail/, and the sender that delivers them over
 * SMTP (libcurl) to the relay of mail.smtp_url, apart from any request.
 *
 * A request never talks to the relay: apx_mail_queue() stores the mail's
 * variables sealed by the vault (links carry tokens) and wakes the sender
 * (NOTIFY apx_mail). The sender (accupredix-admin mail send) renders the
 * message, sends it, and drops the variables; a relay that is down is
 * tried again later, longer each time, and nothing is lost.
 */
#ifndef APX_AUTH_MAIL_H
#define APX_AUTH_MAIL_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/conf.h"

struct apx_db;

/* A mail tried this often stays in the outbox, failed, for an operator. */
#define APX_MAIL_MAX_ATTEMPTS	16
/* How long a sent mail's row is kept (without its variables). */
#define APX_MAIL_KEEP_DAYS	30

/*
 * Queue mail KIND (a template of data/mail/) to TO (an address
 * apx_account_email_norm accepts) for user UID (0: none yet, e.g. an
 * invitation to an address), with the template variables VARS (an
 * object of strings; borrowed; "name" is the recipient's name). The
 * product name and public origin are added here. APX_EINVAL for an
 * unknown kind or a bad address, APX_ENOKEY when the vault cannot seal.
 */
int	 apx_mail_queue(struct apx_db *, const struct apx_conf *,
	    const char *, int64_t, const char *, json_t *);

/*
 * The whole message (RFC 5322, CRLF lines, multipart/alternative of a
 * text and an HTML part, both base64) of KIND to TO with VARS, from
 * mail.from, with MSGID (without the angle brackets) and DATE. Every
 * header value that could carry a user's text (the name, the subject) is
 * an RFC 2047 encoded-word, so no CR or LF from a name ever reaches a
 * header. APX_EINVAL for an unknown kind, a bad address or a variable
 * that is not a string.
 */
int	 apx_mail_compose(const struct apx_conf *, const char *, const char *,
	    json_t *, const char *, time_t, struct apx_buf *);
/* Is KIND a template this binary carries? */
int	 apx_mail_kind_ok(const char *);

/*
 * The sender: deliver due mails until STOP (or, ONCE, until none is due),
 * waiting for NOTIFY apx_mail up to POLL seconds between rounds; each
 * mail is taken for LEASE seconds. Sent mails lose their variables; rows
 * older than APX_MAIL_KEEP_DAYS and unverified accounts older than
 * auth.unverified_ttl are removed as it goes. *SENT counts mails sent.
 * APX_ECONFIG when mail.smtp_url or mail.from is not set.
 */
int	 apx_mail_run(struct apx_db *, const struct apx_conf *, int, int, int,
	    volatile int *, long long *);

#endif
