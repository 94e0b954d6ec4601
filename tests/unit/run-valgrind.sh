#!/bin/sh
# The parsers of untrusted XML and tokens (SAML Responses with every attack
# of tests/unit/test_saml.c, IdP metadata, ID tokens, JWKS) under valgrind:
# no invalid read or write, no leak. Run by `make check`; skipped (77)
# where valgrind is missing.
set -eu
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed: skipped"; exit 77; }
# a sanitizer build has its own checks and does not run under valgrind
if ldd ./tests/unit/test_saml 2>/dev/null | grep -q 'libasan\|libubsan' ||
    grep -qa 'AddressSanitizer' ./tests/unit/test_saml; then
	echo "sanitizer build: skipped"
	exit 77
fi
fail=0
for t in test_saml test_oidc; do
	if ! valgrind -q --error-exitcode=9 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect \
	    ./tests/unit/"$t" >"tests/unit/$t.valgrind.log" 2>&1; then
		echo "valgrind: $t failed (tests/unit/$t.valgrind.log)" >&2
		tail -n 30 "tests/unit/$t.valgrind.log" >&2
		fail=1
	else
		echo "valgrind: $t clean"
	fi
done
exit $fail
