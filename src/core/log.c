/*
 * stderr logging. Each line is written with a single write(2) so lines of
 * concurrent workers do not interleave.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static int	 log_level = APX_LOG_INFO;
static char	 log_ident[32] = "accupredix";
static long	 log_pid;	/* cached: one getpid() per process */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
apx_log_set_level(int level)
{
	if (level >= APX_LOG_ERROR && level <= APX_LOG_DEBUG)
		log_level = level;
}

int
apx_log_get_level(void)
{
	return log_level;
}

void
apx_log_after_fork(void)
{
	log_pid = (long)getpid();
}

void
apx_log_set_ident(const char *ident)
{
	(void)apx_strlcpy_chk(log_ident, ident, sizeof(log_ident));
}

int
apx_log_level_parse(const char *s, int *out)
{
	size_t i;

	for (i = 0; i < APX_NELEM(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return APX_EINVAL;
}

void
apx_vlog_func(int level, const char *func, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	if (level > log_level)
		return;
	if (log_pid == 0)
		log_pid = (long)getpid();
	n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s: ", log_ident,
	    log_pid, level_names[level], func);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	if ((size_t)m >= sizeof(line) - (size_t)n - 1)
		m = (int)(sizeof(line) - (size_t)n - 2);
	n += m;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
apx_log_func(int level, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	apx_vlog_func(level, func, fmt, ap);
	va_end(ap);
}

void
apx_log_sanitize(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (size == 0)
		return;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x21 && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 >= size)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}
