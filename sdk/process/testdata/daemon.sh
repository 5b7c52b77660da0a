#!/bin/sh
# Exits at once, leaving behind a daemon in its own session that keeps
# stdout open and prints its pid ("daemon PID"). With IGNORE_TERM=1 the
# daemon ignores SIGTERM.
[ "$IGNORE_TERM" = 1 ] && trap '' TERM HUP
setsid sh -c 'echo daemon $$; exec sleep 300' &
echo main done
