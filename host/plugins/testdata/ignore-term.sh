#!/bin/sh
# A command that ignores SIGTERM: only the plugin's SIGKILL after the grace
# ends it. $1 is a folder where it writes its pid once it is up.
trap '' TERM
echo $$ > "$1/ignore"
while :; do sleep 1; done
