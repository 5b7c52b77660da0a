#!/bin/sh
# Makes an orphan: starts a short sleep in the background, writes its pid to
# $1, then exits once the file $2 exists. The sleep outlives this shell.
sleep 1 &
echo $! >"$1"
while [ ! -e "$2" ]; do sleep 0.05; done
