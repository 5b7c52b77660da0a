#!/bin/sh
# make demo: run demo jobs through Cajon's local queue, with live progress.
#
# Uses a throw-away state directory made by mktemp (set CAJON_DEMO_STATE to
# use another one). Needs bin/cajon and bin/plugins/ ('make build'). Submits
# examples/jobs/demo.toml (exec plugin only); when blender is on PATH, also
# examples/jobs/blender.toml, which makes a tiny scene, renders 3 frames and,
# when ffmpeg is on PATH, encodes them to a video.
set -eu
cd "$(dirname "$0")/.."

cajon=bin/cajon
if [ ! -x "$cajon" ]; then
	echo "demo: $cajon is missing: run 'make build' first" >&2
	exit 1
fi
state=${CAJON_DEMO_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/cajon-demo.XXXXXX")}

q() {
	"$cajon" "$@" --state-dir "$state"
}

echo "== Cajon demo, state directory $state (throw-away)"
echo "== cajon local submit examples/jobs/demo.toml"
ids=$(q local submit examples/jobs/demo.toml)

if command -v blender >/dev/null 2>&1 && [ -x bin/plugins/cajon-plugin-blender ]; then
	# Relative paths in a job are relative to its file: a copy in the state
	# directory renders into it.
	job=$state/blender.toml
	if command -v ffmpeg >/dev/null 2>&1 && [ -x bin/plugins/cajon-plugin-ffmpeg ]; then
		cp examples/jobs/blender.toml "$job"
	else
		echo "== ffmpeg is not on PATH: the render job makes no video"
		sed '/^# --- needs ffmpeg/,$d' examples/jobs/blender.toml >"$job"
	fi
	echo "== cajon local submit $job (renders to $state/blender-demo)"
	ids="$ids $(q local submit "$job")"
else
	echo "== blender is not on PATH: no render job this time"
fi

echo "== cajon local run --until-idle --slots 2"
status=0
q local run --until-idle --slots 2 || status=$?

for id in $ids; do
	echo
	echo "== cajon local show $id"
	q local show "$id"
done
echo
echo "== Done. Look around with: $cajon local list --state-dir $state"
echo "   full logs: $cajon local logs ID [TASK] --state-dir $state; remove it all: rm -rf $state"
exit "$status"
