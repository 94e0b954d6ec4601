# shellcheck shell=bash
# scripts/lib/build.sh: out-of-tree builds (docs/contract.md "Build").
# Sourced after common.sh.
#
#   apx_build BUILD_DIR [CONFIGURE_ARG...]
#       autoreconf -fi in the source tree when configure is missing or older
#       than configure.ac / Makefile.am / m4/*.m4; configure in BUILD_DIR when
#       it has no Makefile or was configured with other arguments; make -j2.
#   apx_build_has_binaries BUILD_DIR
#   apx_build_flags_for BUILD_DIR    default configure arguments for a dir:
#       --enable-werror, plus --enable-sanitizers for a *asan* dir name.

APX_BUILD_JOBS=${APX_BUILD_JOBS:-2}

apx_build_has_binaries() {
	[ -x "$1/src/accupredix-fcgi" ] && [ -x "$1/src/accupredix-admin" ]
}

apx_build_flags_for() {
	case $(basename "$1") in
	*asan* | *sanitize*) printf '%s\n' --enable-werror --enable-sanitizers ;;
	*) printf '%s\n' --enable-werror ;;
	esac
}

# 0 when configure must be (re)generated.
apx_configure_stale() {
	local f
	[ -x "$APX_ROOT/configure" ] || return 0
	for f in "$APX_ROOT/configure.ac" "$APX_ROOT/Makefile.am" "$APX_ROOT"/m4/*.m4; do
		[ -e "$f" ] || continue
		[ "$f" -nt "$APX_ROOT/configure" ] && return 0
	done
	return 1
}

apx_build() {
	local dir=$1 have
	shift
	[ -f "$APX_ROOT/configure.ac" ] ||
	    apx_die "no configure.ac in $APX_ROOT: the C core is not there yet"
	apx_need_cmd autoreconf autoconf
	apx_need_cmd make build-essential
	if apx_configure_stale; then
		apx_say "autoreconf -fi in $APX_ROOT"
		(cd "$APX_ROOT" && autoreconf -fi) || apx_die "autoreconf -fi failed"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$dir" != "$APX_ROOT" ] ||
	    apx_die "refusing to configure the source tree itself; builds are out of tree"
	# configure again when never done, done with other arguments (as
	# config.status --config reports them), or older than configure
	have=$("$dir/config.status" --config 2>/dev/null || true)
	if [ ! -f "$dir/Makefile" ] || [ ! -x "$dir/config.status" ] ||
	    [ "$have" != "$*" ] || [ "$APX_ROOT/configure" -nt "$dir/config.status" ]; then
		apx_say "configure $* (in $dir)"
		(cd "$dir" && "$APX_ROOT/configure" "$@") ||
		    apx_die "configure failed: see $dir/config.log"
	fi
	apx_say "make -j$APX_BUILD_JOBS (in $dir)"
	make -C "$dir" -j"$APX_BUILD_JOBS" || apx_die "make failed in $dir"
	apx_build_has_binaries "$dir" ||
	    apx_die "make succeeded but $dir/src/accupredix-fcgi or accupredix-admin is missing"
}
