#!/bin/sh
# Makes an orphan: starts a background shell that exits once the file $3
# exists (not after a fixed time: on a busy machine it must outlive this
# shell), writes its pid to $1, then exits once the file $2 exists.
sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done' "$3" &
echo $! >"$1"
while [ ! -e "$2" ]; do sleep 0.05; done
