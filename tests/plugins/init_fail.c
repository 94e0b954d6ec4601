/*
 * Test plugin: well formed, but its init answers -1. The host must drop
 * it and go on with the others.
 */
#include <stddef.h>

#include <accupredix/connector.h>

static int	 tp_init(const struct apx_host *, struct apx_cx *);
static void	 tp_fini(void);
static int	 tp_authorize(struct apx_cx *, const struct apx_authorize *,
		    const char **);
static int	 tp_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 tp_refresh(struct apx_cx *, const char *, struct apx_tokens *);
static int	 tp_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 tp_check(struct apx_cx *, const char *, const char *);
static int	 tp_webhook_verify(struct apx_cx *, const struct apx_webhook *);
static int	 tp_webhook_route(struct apx_cx *, const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 tp_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 tp_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);

static const struct apx_connector desc = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "initfail",
	.version = "0.0.1",
	.display_name = "Init fails",
	.fields = NULL,
	.nfields = 0,
	.scopes = NULL,
	.nscopes = 0,
	.pkce = 0,
	.init = tp_init,
	.fini = tp_fini,
	.authorize = tp_authorize,
	.exchange = tp_exchange,
	.refresh = tp_refresh,
	.revoke = tp_revoke,
	.check = tp_check,
	.webhook_verify = tp_webhook_verify,
	.webhook_route = tp_webhook_route,
	.webhook_handle = tp_webhook_handle,
	.sync = tp_sync,
};

const struct apx_connector *
apx_connector_entry(void)
{
	return &desc;
}

static int
tp_init(const struct apx_host *h, struct apx_cx *cx)
{
	/* Refuse, as a plugin does whose configuration is incomplete. */
	h->log_msg(cx, APX_C_LOG_ERROR, "%s: refusing to start", __func__);
	return -1;
}

static void
tp_fini(void)
{
}

static int
tp_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	(void)cx;
	(void)az;
	*url = NULL;
	return APX_C_EINVAL;
}

static int
tp_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	(void)cx;
	(void)cb;
	(void)ex;
	return APX_C_EINVAL;
}

static int
tp_refresh(struct apx_cx *cx, const char *refresh_token, struct apx_tokens *t)
{
	(void)cx;
	(void)refresh_token;
	(void)t;
	return APX_C_EINVAL;
}

static int
tp_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	(void)cx;
	(void)t;
	return APX_C_EINVAL;
}

static int
tp_check(struct apx_cx *cx, const char *access_token, const char *account_id)
{
	(void)cx;
	(void)access_token;
	(void)account_id;
	return APX_C_EINVAL;
}

static int
tp_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	(void)cx;
	(void)wh;
	return APX_C_EUNAUTH;
}

static int
tp_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	(void)cx;
	(void)wh;
	*events = NULL;
	*nevents = 0;
	return APX_C_EINVAL;
}

static int
tp_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	(void)ev;
	return APX_C_ENOTFOUND;
}

static int
tp_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	(void)cx;
	(void)s;
	(void)cursor;
	return APX_C_ENOTFOUND;
}
