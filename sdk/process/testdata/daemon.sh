#!/bin/sh
# Exits as soon as its daemon is up, leaving behind that daemon in its own
# session that keeps stdout open and printed its pid ("daemon PID"). With
# IGNORE_TERM=1 the daemon ignores SIGTERM. $READY is a file the daemon
# creates once it has printed its pid, so a loaded machine cannot make the
# main process exit (and the leftovers be swept) before the daemon is up.
[ "$IGNORE_TERM" = 1 ] && trap '' TERM HUP
setsid sh -c 'echo daemon $$; : > "$READY"; exec sleep 300' &
while [ ! -e "$READY" ]; do sleep 0.01; done
echo main done
