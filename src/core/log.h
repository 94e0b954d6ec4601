/*
 * Logging to stderr (under Apache and lighttpd: the server's error log).
 * One line per call, prefixed by level and the calling function. Never pass
 * a secret here: secrets have their own type and no format for it exists.
 */
#ifndef APX_CORE_LOG_H
#define APX_CORE_LOG_H

#include <stdarg.h>

#include "core/apx.h"

enum apx_log_level {
	APX_LOG_ERROR = 0,
	APX_LOG_WARN = 1,
	APX_LOG_INFO = 2,
	APX_LOG_DEBUG = 3,
};

void	 apx_log_set_level(int);
int	 apx_log_get_level(void);
void	 apx_log_set_ident(const char *);
/* A forked child calls this first so its lines carry its own pid. */
void	 apx_log_after_fork(void);
int	 apx_log_level_parse(const char *, int *);
void	 apx_log_func(int, const char *, const char *, ...) APX_PRINTF(3, 4);
void	 apx_vlog_func(int, const char *, const char *, va_list)
	    APX_PRINTF(3, 0);

#define apx_log(lvl, ...)	apx_log_func((lvl), __func__, __VA_ARGS__)
#define apx_log_error(...)	apx_log_func(APX_LOG_ERROR, __func__, __VA_ARGS__)
#define apx_log_warn(...)	apx_log_func(APX_LOG_WARN, __func__, __VA_ARGS__)
#define apx_log_info(...)	apx_log_func(APX_LOG_INFO, __func__, __VA_ARGS__)
#define apx_log_debug(...)	apx_log_func(APX_LOG_DEBUG, __func__, __VA_ARGS__)

/*
 * Copy untrusted text for a log line: printable ASCII kept, everything else
 * (control bytes, quotes, backslash, non-ASCII) as \xNN; truncated to fit.
 */
void	 apx_log_sanitize(char *, size_t, const char *, size_t);

#endif
