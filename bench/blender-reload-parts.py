# Where a warm Blender's reload of a heavy scene goes (docs/BENCHMARKS.md,
# "Where the heavy scene's reload goes"). Run:
#
#   blender -b --factory-startup --python bench/blender-reload-parts.py
#
# It saves the benchmark's heavy scene (a 1000x1000 grid, ~130 MB
# uncompressed; as BenchmarkWarmSequence makes it) to a temporary file,
# opens it, and times four reloads as the warm driver does them
# (revert_mainfile), split at the load_pre and load_post handlers, and the
# driver's state check after each.
import os
import sys
import tempfile
import time

import bpy
from bpy.app.handlers import persistent

path = os.path.join(tempfile.mkdtemp(prefix="cajon-reload-"), "heavy.blend")
bpy.ops.mesh.primitive_grid_add(x_subdivisions=1000, y_subdivisions=1000, size=4)
bpy.ops.wm.save_as_mainfile(filepath=path, compress=False)
bpy.ops.wm.open_mainfile(filepath=path)
print("scene: %s, %.0f MB" % (path, os.path.getsize(path) / 1e6))

# The driver's state check, without starting its connection (main()).
driver = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins", "blender", "warm_driver.py")
source = open(driver).read().rsplit("\nmain()", 1)[0]
space = {"__name__": "cajon_warm_driver"}
exec(compile(source, driver, "exec"), space)
bundled = space["bundled_dirs"]()
space["interpreter_state"](bundled)

marks = {}


@persistent
def load_pre(*_):
    marks["pre"] = time.monotonic()


@persistent
def load_post(*_):
    marks["post"] = time.monotonic()


bpy.app.handlers.load_pre.append(load_pre)
bpy.app.handlers.load_post.append(load_post)
for i in range(4):
    marks.clear()
    start = time.monotonic()
    bpy.ops.wm.revert_mainfile()
    end = time.monotonic()
    space["interpreter_state"](bundled)
    checked = time.monotonic()
    print("reload %d: %.3f s in all; to load_pre %.3f, load_pre to load_post %.3f, after load_post %.3f; state check %.3f s"
          % (i + 1, end - start, marks["pre"] - start, marks["post"] - marks["pre"], end - marks["post"], checked - end))
os.remove(path)
os.rmdir(os.path.dirname(path))
sys.stdout.flush()
