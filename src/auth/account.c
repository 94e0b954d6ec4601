#include "config.h"

#include <ctype.h>
#include <string.h>

#include "auth/account.h"

int
apx_account_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t i, len = strlen(s);

	if (len < 3 || len > APX_EMAIL_MAX || at == NULL || at == s ||
	    strchr(at + 1, '@') != NULL || at[1] == '\0' ||
	    strchr(at + 1, '.') == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' ||
		    ch == '"' || ch == '\\' || ch == ',' || ch == ';')
			return 0;
	}
	return 1;
}

const char *
apx_account_email_norm(struct apx_arena *a, const char *s)
{
	char *n;
	size_t i;

	if (!apx_account_email_ok(s) || (n = apx_arena_strdup(a, s)) == NULL)
		return NULL;
	for (i = 0; n[i] != '\0'; i++)
		n[i] = (char)tolower((unsigned char)n[i]);
	return n;
}
