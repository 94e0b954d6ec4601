# APX_REQUIRE_PKG(VARIABLE, MODULES, DEBIAN-PACKAGE)
# pkg-config check that fails with the name of the Debian package to install.
AC_DEFUN([APX_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
	    [AC_MSG_ERROR([$2 not found by pkg-config: install the Debian package $3])])
])

# APX_CHECK_CFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
# Does the compiler accept FLAG (warnings as errors) for a trivial program?
AC_DEFUN([APX_CHECK_CFLAG], [
	AC_MSG_CHECKING([whether $CC accepts $1])
	apx_save_CFLAGS="$CFLAGS"
	CFLAGS="$CFLAGS -Werror $1"
	AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
	    [AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no]); $3])
	CFLAGS="$apx_save_CFLAGS"
])

# APX_CHECK_LDFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
AC_DEFUN([APX_CHECK_LDFLAG], [
	AC_MSG_CHECKING([whether $CC links with $1])
	apx_save_LDFLAGS="$LDFLAGS"
	apx_save_CFLAGS="$CFLAGS"
	LDFLAGS="$LDFLAGS $1"
	CFLAGS="$CFLAGS -fPIE $1"
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
	    [AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no]); $3])
	LDFLAGS="$apx_save_LDFLAGS"
	CFLAGS="$apx_save_CFLAGS"
])
