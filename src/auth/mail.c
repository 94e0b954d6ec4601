/*
 * Mail to users (see mail.h): queueing, composing from the embedded
 * templates, and the sender that speaks SMTP to the relay through libcurl.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "auth/account.h"
#include "auth/mail.h"
#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"
#include "store/mail.h"
#include "vault/vault.h"

struct mail_template {
	const char	*kind;
	const char	*subject;
	const char	*text;
	const char	*html;
};

#include "auth/mail_templates.inc"

#define VARS_MAX	(64 * 1024)	/* a mail's variables, as JSON */
#define VALUE_MAX	2048		/* one variable */
#define BACKOFF_BASE_S	5
#define BACKOFF_MAX_S	3600
#define PURGE_EVERY_S	600
#define B64_LINE	76

static const struct mail_template *template_of(const char *);
static int	 render(struct apx_buf *, const char *, json_t *, int);
static int	 encoded_word(struct apx_buf *, const char *);
static int	 base64_lines(struct apx_buf *, const char *, size_t);
static int	 mail_date(struct apx_buf *, time_t);
static const char *origin_host(const struct apx_conf *, char *, size_t);
static int	 smtp_send(const struct apx_conf *, const char *,
		    const struct apx_buf *, const char **);
static int	 deliver(struct apx_db *, const struct apx_conf *,
		    struct apx_vault *, const struct apx_outbox_row *,
		    struct apx_buf *, const char **);

static const struct mail_template *
template_of(const char *kind)
{
	size_t i;

	if (kind == NULL)
		return NULL;
	for (i = 0; i < APX_NELEM(mail_templates); i++)
		if (strcmp(mail_templates[i].kind, kind) == 0)
			return &mail_templates[i];
	return NULL;
}

int
apx_mail_kind_ok(const char *kind)
{
	return template_of(kind) != NULL;
}

/*
 * TEMPLATE with each {{name}} replaced by the string variable of VARS: as
 * it is in text (control characters made blanks), HTML-escaped when HTML.
 * A variable the template names and VARS lacks is an error: a mail never
 * goes out with a hole.
 */
static int
render(struct apx_buf *out, const char *t, json_t *vars, int html)
{
	const char *open, *close, *v;
	char name[33];
	size_t n, i;
	int rc;

	while ((open = strstr(t, "{{")) != NULL) {
		if ((rc = apx_buf_add(out, t, (size_t)(open - t))) != 0)
			return rc;
		if ((close = strstr(open + 2, "}}")) == NULL ||
		    (n = (size_t)(close - open - 2)) == 0 || n >= sizeof(name))
			return APX_EINVAL;
		memcpy(name, open + 2, n);
		name[n] = '\0';
		if ((v = json_string_value(json_object_get(vars, name))) == NULL ||
		    strlen(v) > VALUE_MAX)
			return APX_EINVAL;
		if (html)
			rc = apx_buf_html(out, v, strlen(v));
		else {
			for (i = 0; v[i] != '\0' && rc == 0; i++) {
				unsigned char ch = (unsigned char)v[i];

				if (ch < 0x20 || ch == 0x7f)
					ch = ' ';
				rc = apx_buf_add(out, &ch, 1);
			}
		}
		if (rc != 0)
			return rc;
		t = close + 2;
	}
	return apx_buf_adds(out, t);
}

/*
 * S (UTF-8, no control characters left) as RFC 2047 B encoded-words of at
 * most 75 characters, folded with CRLF SP, cut between characters only.
 */
static int
encoded_word(struct apx_buf *out, const char *s)
{
	char b64[80];
	size_t len = strlen(s), off = 0, n, seq;
	int rc;

	if (len == 0)
		return 0;
	while (off < len) {
		n = 0;
		/* 39 bytes make 52 base64 characters, 64 with the frame:
		 * a line of "Subject: " and one word stays within 78. */
		while (off + n < len) {
			seq = apx_utf8_seq((const unsigned char *)s + off + n,
			    len - off - n);
			if (seq == 0)
				seq = 1;	/* malformed: sent as is */
			if (n + seq > 39)
				break;
			n += seq;
		}
		sodium_bin2base64(b64, sizeof(b64),
		    (const unsigned char *)s + off, n,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((rc = apx_buf_printf(out, "%s=?UTF-8?B?%s?=",
		    off > 0 ? "\r\n " : "", b64)) != 0)
			return rc;
		off += n;
	}
	return 0;
}

/* LEN bytes of S in base64, CRLF every 76 characters. */
static int
base64_lines(struct apx_buf *out, const char *s, size_t len)
{
	char line[B64_LINE + 4];
	size_t off, n;
	int rc;

	for (off = 0; off < len; off += n) {
		n = len - off > B64_LINE / 4 * 3 ? B64_LINE / 4 * 3 : len - off;
		sodium_bin2base64(line, sizeof(line),
		    (const unsigned char *)s + off, n,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((rc = apx_buf_printf(out, "%s\r\n", line)) != 0)
			return rc;
	}
	return 0;
}

/* RFC 5322 date in UTC, without the locale's names. */
static int
mail_date(struct apx_buf *out, time_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return APX_EINVAL;
	return apx_buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d "
	    "+0000\r\n", days[tm.tm_wday % 7], tm.tm_mday,
	    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* The host of http.public_origin (Message-ID's right side). */
static const char *
origin_host(const struct apx_conf *conf, char *buf, size_t len)
{
	const char *o = conf->public_origin, *h;
	size_t n;

	if (o == NULL || (h = strstr(o, "://")) == NULL)
		return "accupredix.invalid";
	h += 3;
	n = strcspn(h, ":/");
	if (n == 0 || n >= len)
		return "accupredix.invalid";
	memcpy(buf, h, n);
	buf[n] = '\0';
	return buf;
}

int
apx_mail_compose(const struct apx_conf *conf, const char *kind,
    const char *to, json_t *vars, const char *msgid, time_t date,
    struct apx_buf *out)
{
	const struct mail_template *t;
	struct apx_buf subj = { 0 }, text = { 0 }, html = { 0 };
	unsigned char rnd[12];
	char boundary[48], rhex[25];
	const char *name;
	json_t *all;
	int rc;

	if ((t = template_of(kind)) == NULL || to == NULL ||
	    !apx_account_email_ok(to) || msgid == NULL ||
	    strpbrk(msgid, "<>\r\n ") != NULL || !json_is_object(vars))
		return APX_EINVAL;
	if ((all = json_deep_copy(vars)) == NULL)
		return APX_ENOMEM;
	/* What every template may name, from the configuration. */
	if (json_object_set_new(all, "product", json_string(
	    conf->product_name != NULL ? conf->product_name : "AccuPredix"))
	    != 0 || json_object_set_new(all, "origin", json_string(
	    conf->public_origin != NULL ? conf->public_origin : "")) != 0) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((rc = render(&subj, t->subject, all, 0)) != 0 ||
	    (rc = render(&text, t->text, all, 0)) != 0 ||
	    (rc = apx_buf_adds(&html, "<!DOCTYPE html>\n<html><head>"
	    "<meta charset=\"utf-8\"><title>")) != 0 ||
	    (rc = render(&html, t->subject, all, 1)) != 0 ||
	    (rc = apx_buf_adds(&html, "</title></head><body>\n")) != 0 ||
	    (rc = render(&html, t->html, all, 1)) != 0 ||
	    (rc = render(&html, "<p>-- <br>{{product}} "
	    "(<a href=\"{{origin}}\">{{origin}}</a>)</p>\n</body></html>\n",
	    all, 1)) != 0 ||
	    (rc = apx_buf_add(&subj, "", 1)) != 0)
		goto out;

	apx_random(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	snprintf(boundary, sizeof(boundary), "=_apx_%s", rhex);
	name = json_string_value(json_object_get(vars, "name"));

	if ((rc = apx_buf_adds(out, "From: ")) != 0 ||
	    (rc = encoded_word(out, conf->mail_from_name != NULL ?
	    conf->mail_from_name : "AccuPredix")) != 0 ||
	    (rc = apx_buf_printf(out, " <%s>\r\nTo: ", conf->mail_from != NULL ?
	    conf->mail_from : "no-reply@accupredix.invalid")) != 0)
		goto out;
	if (name != NULL && *name != '\0') {
		struct apx_buf clean = { 0 };

		/* The name is a user's text: an encoded-word, blanks for
		 * control characters, so it never ends a header line. */
		rc = render(&clean, "{{name}}", all, 0);
		if (rc == 0)
			rc = apx_buf_add(&clean, "", 1);
		if (rc == 0)
			rc = encoded_word(out, clean.data);
		if (rc == 0)
			rc = apx_buf_adds(out, " ");
		apx_buf_free(&clean);
		if (rc != 0)
			goto out;
	}
	if ((rc = apx_buf_printf(out, "<%s>\r\nSubject: ", to)) != 0 ||
	    (rc = encoded_word(out, subj.data)) != 0 ||
	    (rc = apx_buf_adds(out, "\r\n")) != 0 ||
	    (rc = mail_date(out, date)) != 0 ||
	    (rc = apx_buf_printf(out, "Message-ID: <%s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
	    "\r\n"
	    "--%s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", msgid, boundary,
	    boundary)) != 0 ||
	    (rc = base64_lines(out, text.data, text.len)) != 0 ||
	    (rc = apx_buf_printf(out, "--%s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", boundary)) != 0 ||
	    (rc = base64_lines(out, html.data, html.len)) != 0 ||
	    (rc = apx_buf_printf(out, "--%s--\r\n", boundary)) != 0)
		goto out;
out:
	/* The bodies hold the links, tokens included. */
	json_decref(all);
	if (text.data != NULL)
		apx_wipe(text.data, text.len);
	if (html.data != NULL)
		apx_wipe(html.data, html.len);
	apx_buf_free(&subj);
	apx_buf_free(&text);
	apx_buf_free(&html);
	return rc;
}

int
apx_mail_queue(struct apx_db *db, const struct apx_conf *conf,
    const char *kind, int64_t uid, const char *to, json_t *vars)
{
	struct apx_vault *v;
	unsigned char rnd[16], *sealed = NULL;
	char hex[33], msgid[200], host[128], err[256], *js = NULL;
	size_t slen = 0, jlen;
	int rc;

	if (!apx_mail_kind_ok(kind) || to == NULL ||
	    !apx_account_email_ok(to) || !json_is_object(vars))
		return APX_EINVAL;
	if ((rc = apx_vault_get(conf, &v, err, sizeof(err))) != 0) {
		apx_log_warn("mail: the vault cannot seal a %s mail: %s", kind,
		    err);
		return rc;
	}
	apx_random(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(msgid, sizeof(msgid), "%s@%s", hex,
	    origin_host(conf, host, sizeof(host)));
	if ((js = json_dumps(vars, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	if ((jlen = strlen(js)) > VARS_MAX) {
		rc = APX_ETOOBIG;
		goto out;
	}
	/* Bound to this mail: the record is the Message-ID's left side. */
	if ((rc = apx_vault_seal(v, db, "platform", "mail", hex, js, jlen,
	    &sealed, &slen)) != 0)
		goto out;
	rc = apx_outbox_put(db, kind, uid, to, msgid, sealed, slen);
out:
	apx_wipe(js, strlen(js));
	free(js);
	free(sealed);
	return rc;
}

struct upload {
	const char	*p;
	size_t		 left;
};

static size_t
upload_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n;

	if (len > u->left)
		len = u->left;
	memcpy(buf, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

/* One message to TO through the relay. *WHY: curl's words on failure. */
static int
smtp_send(const struct apx_conf *conf, const char *to,
    const struct apx_buf *msg, const char **why)
{
	static char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *rcpt = NULL;
	struct upload u = { msg->data, msg->len };
	char from[300], rcpt_s[300];
	const char *pw;
	CURL *h;
	CURLcode cc;
	int rc = 0;

	*why = NULL;
	errbuf[0] = '\0';
	if ((h = curl_easy_init()) == NULL)
		return APX_ENOMEM;
	snprintf(from, sizeof(from), "<%s>", conf->mail_from);
	snprintf(rcpt_s, sizeof(rcpt_s), "<%s>", to);
	if ((rcpt = curl_slist_append(NULL, rcpt_s)) == NULL) {
		curl_easy_cleanup(h);
		return APX_ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, conf->mail_smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)conf->mail_timeout);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
	if (strncmp(conf->mail_smtp_url, "smtp://", 7) == 0)
		curl_easy_setopt(h, CURLOPT_USE_SSL, conf->mail_starttls ?
		    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (conf->mail_ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, conf->mail_ca_file);
	if (conf->mail_smtp_user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, conf->mail_smtp_user);
		pw = apx_secret_str(conf->mail_smtp_password);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pw != NULL ? pw : "");
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		*why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
		rc = APX_EIO;
	}
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return rc;
}

/* Open R's variables, compose it and send it. */
static int
deliver(struct apx_db *db, const struct apx_conf *conf, struct apx_vault *v,
    const struct apx_outbox_row *r, struct apx_buf *msg, const char **why)
{
	unsigned char *plain = NULL;
	char record[64];
	json_t *vars;
	size_t plen = 0, n;
	int rc;

	*why = NULL;
	n = strcspn(r->message_id, "@");
	if (r->sealed == NULL || n == 0 || n >= sizeof(record)) {
		*why = "no_variables";
		return APX_EINVAL;
	}
	memcpy(record, r->message_id, n);
	record[n] = '\0';
	if ((rc = apx_vault_open(v, db, "platform", "mail", record, r->sealed,
	    r->sealed_len, &plain, &plen)) != 0) {
		*why = "unsealable";
		return rc;
	}
	vars = json_loadb((const char *)plain, plen, 0, NULL);
	apx_wipe(plain, plen);
	free(plain);
	if (vars == NULL) {
		*why = "variables_unreadable";
		return APX_EINVAL;
	}
	rc = apx_mail_compose(conf, r->kind, r->to_addr, vars, r->message_id,
	    time(NULL), msg);
	json_decref(vars);
	if (rc != 0) {
		*why = "compose_failed";
		return rc;
	}
	rc = smtp_send(conf, r->to_addr, msg, why);
	apx_wipe(msg->data, msg->len);
	return rc;
}

int
apx_mail_run(struct apx_db *db, const struct apx_conf *conf, int once,
    int lease, int poll_s, volatile int *stop, long long *sent)
{
	struct apx_outbox_row r;
	struct apx_vault *v;
	struct apx_buf msg;
	const char *why;
	char err[256];
	int64_t last_purge = 0;
	long long gone;
	int rc, delay;

	*sent = 0;
	if (conf->mail_smtp_url == NULL || conf->mail_from == NULL)
		return APX_ECONFIG;
	if ((rc = apx_vault_get(conf, &v, err, sizeof(err))) != 0) {
		apx_log_error("mail: the vault: %s", err);
		return rc;
	}
	while (stop == NULL || !*stop) {
		if (apx_unix_now() - last_purge >= PURGE_EVERY_S) {
			if (apx_outbox_purge(db, APX_MAIL_KEEP_DAYS,
			    conf->unverified_ttl, &gone) == 0) {
				last_purge = apx_unix_now();
				if (gone > 0)
					apx_log_info("mail: %lld accounts "
					    "unverified for %lld s removed",
					    gone, conf->unverified_ttl);
			}
		}
		rc = apx_outbox_take(db, lease, APX_MAIL_MAX_ATTEMPTS, &r);
		if (rc == APX_ENOTFOUND) {
			if (once)
				return 0;
			apx_db_wait_notify(db, "apx_mail", poll_s, stop);
			continue;
		}
		if (rc != 0) {
			apx_log_warn("mail: the outbox could not be read: %s",
			    apx_strerror(rc));
			if (once)
				return rc;
			apx_db_wait_notify(db, "apx_mail", poll_s, stop);
			continue;
		}
		memset(&msg, 0, sizeof(msg));
		rc = deliver(db, conf, v, &r, &msg, &why);
		if (rc == 0)
			rc = apx_outbox_sent(db, r.id);
		if (rc == 0) {
			(*sent)++;
			apx_log_info("mail %lld (%s) sent", (long long)r.id,
			    r.kind);
		} else {
			delay = BACKOFF_BASE_S << (r.attempts < 7 ?
			    r.attempts - 1 : 6);
			if (delay > BACKOFF_MAX_S)
				delay = BACKOFF_MAX_S;
			apx_log_warn("mail %lld (%s) not sent (attempt %d: %s);"
			    " again in %d s", (long long)r.id, r.kind,
			    r.attempts, why != NULL ? why : apx_strerror(rc),
			    delay);
			(void)apx_outbox_retry(db, r.id, delay, why != NULL ?
			    why : apx_strerror(rc));
		}
		apx_buf_free(&msg);
		apx_outbox_row_clear(&r);
		if (rc != 0 && once)
			return rc;
	}
	return 0;
}
