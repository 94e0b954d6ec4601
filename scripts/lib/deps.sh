#!/usr/bin/env bash
# scripts/lib/deps.sh: install the Debian packages that building, running and
# testing AccuPredix need (docs/contract.md), and nothing when all are there.
#
#   bash scripts/lib/deps.sh            install what is missing
#   bash scripts/lib/deps.sh --check    list what is missing, exit 1 if any
#
# Sourced by scripts/run and scripts/test (apx_deps_install).  Works on a
# fresh Debian 12 as root without a terminal: `apt-get update` runs only when
# something is missing, and no service is started by the package scripts
# (a temporary policy-rc.d), so no stray Apache/lighttpd/PostgreSQL takes
# ports 80 or 5432.  Extra packages: APX_EXTRA_PACKAGES="pkg1 pkg2".

APX_DEB_PACKAGES=(
	# build (docs/contract.md)
	build-essential autoconf automake autoconf-archive libtool pkg-config
	libfcgi-dev libpq-dev libssl-dev libxml2-dev libxmlsec1-dev
	liboauth2-dev libcjose-dev libjansson-dev libsodium-dev
	libcurl4-openssl-dev zlib1g-dev libcmocka-dev clang libclang-rt-14-dev
	# run
	postgresql-15 apache2 libapache2-mod-fcgid lighttpd lighttpd-mod-openssl lighttpd-modules-lua openssl
	# data: common-password list (/usr/share/john/password.lst)
	john-data
	# tests and bench
	python3 python3-pytest python3-requests wrk valgrind
	# bench/run's JWT peer (mod_auth_openidc in front of a static file)
	libapache2-mod-auth-openidc
	# the local SMTP server that collects the mails of a stack
	python3-aiosmtpd
	# the browser of tests/browser (driven by playwright-core from npm)
	chromium
	# the SAML IdP of the tests (SimpleSAMLphp on PHP's own server; naming
	# php8.2-cgi keeps apt from pulling libapache2-mod-php) and the tools
	# that sign crafted SAML answers
	simplesamlphp php8.2-cgi php8.2-xml xmlsec1 python3-xmlsec python3-lxml
	# used by these scripts
	curl procps coreutils
)

# apx_deps_missing: print the packages that are not installed, one a line.
apx_deps_missing() {
	local p st
	# shellcheck disable=SC2086 # APX_EXTRA_PACKAGES is a word list
	for p in "${APX_DEB_PACKAGES[@]}" ${APX_EXTRA_PACKAGES:-}; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || printf '%s\n' "$p"
	done
}

apx_deps_install() {
	local missing=() rc=0 policy=/usr/sbin/policy-rc.d made_policy=0
	mapfile -t missing < <(apx_deps_missing)
	if [ "${#missing[@]}" -eq 0 ]; then
		printf 'deps: all %d Debian packages present\n' "${#APX_DEB_PACKAGES[@]}" >&2
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		printf 'deps: error: missing Debian packages and not root: %s\n' "${missing[*]}" >&2
		return 1
	fi
	printf 'deps: installing %s\n' "${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# temporary, from scripts/lib/deps.sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		made_policy=1
	fi
	{
		apt-get update -qq &&
		    apt-get install -y -qq --no-install-recommends \
		    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		    "${missing[@]}" </dev/null
	} || rc=$?
	if [ "$made_policy" = 1 ]; then
		rm -f "$policy"
	fi
	if [ "$rc" -ne 0 ]; then
		printf 'deps: error: apt-get failed (%d) installing: %s\n' "$rc" "${missing[*]}" >&2
		return "$rc"
	fi
	mapfile -t missing < <(apx_deps_missing)
	if [ "${#missing[@]}" -ne 0 ]; then
		printf 'deps: error: still missing after apt-get: %s\n' "${missing[*]}" >&2
		return 1
	fi
	printf 'deps: done\n' >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case ${1:-} in
	--check)
		m=$(apx_deps_missing)
		if [ -n "$m" ]; then
			printf '%s\n' "$m"
			exit 1
		fi
		;;
	'') apx_deps_install ;;
	*)
		printf 'usage: %s [--check]\n' "$0" >&2
		exit 2
		;;
	esac
fi
