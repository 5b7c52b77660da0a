#!/bin/sh
# A plugin that dies at start, as one whose interpreter lacks a module does:
# it says why on stderr and exits 3 before go-plugin's handshake. The test
# sets DIES_LINES (numbered lines to write to stderr), DIES_WIDE (the width
# of one more line, of x's) and DIES_STDOUT (a line for stdout, written
# last). With DIES_REAL set, it is that plugin instead.
[ -n "$DIES_REAL" ] && exec "$DIES_REAL"
i=1
while [ "$i" -le "${DIES_LINES:-0}" ]; do
	echo "line $i of $DIES_LINES" >&2
	i=$((i + 1))
done
[ -n "$DIES_WIDE" ] && head -c "$DIES_WIDE" /dev/zero | tr '\0' x >&2 && echo >&2
[ -n "$DIES_STDOUT" ] && echo "$DIES_STDOUT"
exit 3
