# The tiny test scene (the same as plugins/blender's tests use): the factory
# cube in the factory scene ("Scene"), Cycles on the CPU at one sample without
# denoising, 64x36 pixels, PNG. Saved to the last argument:
#   blender -b --factory-startup --python make_scene.py -- OUT.blend
import bpy, sys
s = bpy.context.scene
s.render.engine = 'CYCLES'
s.cycles.device = 'CPU'
s.cycles.samples = 1
s.cycles.use_denoising = False
s.render.resolution_x = 64
s.render.resolution_y = 36
s.render.resolution_percentage = 100
s.render.image_settings.file_format = 'PNG'
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
