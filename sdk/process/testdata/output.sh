#!/bin/sh
# Writes to both streams and exits with status $1; the last stdout line has
# no newline.
printf 'first\n'
printf 'crlf\r\n'
printf 'bar\rredrawn\n'
printf 'to stderr\n' >&2
printf 'no newline'
exit "$1"
