#include "config.h"

#include <ctype.h>
#include <string.h>

#include "auth/account.h"

const char *
apx_account_email_norm(struct apx_arena *a, const char *s)
{
	const char *at = strchr(s, '@');
	char *n;
	size_t i, len = strlen(s);

	if (len < 3 || len > APX_EMAIL_MAX || at == NULL || at == s ||
	    strchr(at + 1, '@') != NULL || at[1] == '\0' ||
	    strchr(at + 1, '.') == NULL)
		return NULL;
	if ((n = apx_arena_strdup(a, s)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)n[i];

		if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' ||
		    ch == '"' || ch == '\\' || ch == ',' || ch == ';')
			return NULL;
		n[i] = (char)tolower(ch);
	}
	return n;
}
