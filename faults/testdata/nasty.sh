#!/bin/sh
# A process tree that tries every trick to survive an abort. $1 is a folder
# where each process writes its pid once it is up.
D=$1
trap '' TERM HUP
# A child that ignores TERM and HUP and keeps spawning sleeps.
sh -c 'trap "" TERM HUP; echo $$ > "$1/ignore"; while :; do sleep 1; done' sh "$D" &
# A new session.
setsid sh -c 'echo $$ > "$1/setsid"; exec sleep 300' sh "$D" &
# A double-forked daemon that ignores TERM and keeps stdout open.
sh -c 'sh -c "trap \"\" TERM HUP; echo \$\$ > \"\$1/daemon\"; exec sleep 300" sh "$1" &' sh "$D"
# setsid, then a double fork, then TERM ignored.
setsid sh -c 'sh -c "trap \"\" TERM HUP; echo \$\$ > \"\$1/setsid-daemon\"; while :; do sleep 1; done" sh "$1" &' sh "$D" &
echo $$ > "$D/root"
echo "tree ready"
wait
sleep 300
