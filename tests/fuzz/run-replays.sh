#!/bin/sh
# Replay every fuzz target's corpus (run by `make check`).
set -eu
: "${FUZZ_TARGETS:?}" "${FUZZ_CORPUS:?}"
fail=0
for t in $FUZZ_TARGETS; do
	if ! ./tests/fuzz/replay_"$t" "$FUZZ_CORPUS/$t"; then
		echo "replay of $t failed" >&2
		fail=1
	fi
done
exit $fail
