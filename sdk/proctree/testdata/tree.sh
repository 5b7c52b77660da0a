#!/bin/sh
# Builds a process tree that tries every way out of containment.
# usage: tree.sh PIDFILE [ROLE]
# Every long-lived process appends its pid to PIDFILE (5 lines in all).
# With IGNORE_TERM=1 every process ignores SIGTERM and SIGHUP (an ignored
# signal stays ignored across fork and exec).
pids=$1
role=${2:-main}
[ "$IGNORE_TERM" = 1 ] && trap '' TERM HUP

case $role in
main)
	echo $$ >>"$pids"
	# A child in a new session: leaves the process group.
	setsid sh "$0" "$pids" sleeper &
	# A double-forked daemon: its parent exits at once, so it is orphaned.
	sh "$0" "$pids" forker
	# A new session and orphaned: leaves the group and its parent.
	setsid sh "$0" "$pids" forker
	# A new session with an empty environment: neither group nor tag.
	setsid env -i IGNORE_TERM="$IGNORE_TERM" sh "$0" "$pids" sleeper &
	wait
	;;
forker)
	sh "$0" "$pids" sleeper &
	;;
sleeper)
	echo $$ >>"$pids"
	# Not exec'd: a shell blocked in a foreground child keeps stdout open too.
	sleep 300
	;;
esac
