# Warm-session driver of cajon-plugin-blender (docs/PLUGINS-RENDER.md).
#
# Blender runs it as `blender -b <file.blend> --python <this file>`, after the
# file is loaded. It connects to the plugin, then renders on request: each
# request carries the arguments a cold Blender would get after the blend file
# (--render-output, --render-format, --scene, --render-frame, --python-expr,
# --python, ...), and the driver applies them in order the way Blender's
# command line does (scripts included, each in a fresh __main__), renders,
# puts back what scripts may change and it can restore (environment, working
# folder, sys.path, preferences), and reloads the file (revert) so that the
# next request finds the scene as a cold start would. Anything it cannot
# apply exactly is refused before it changes anything (or, after a script,
# when its turn comes), and the plugin then runs a cold Blender.
#
# Protocol: requests are JSON lines on the socket named by CAJON_BLENDER_WARM
# ("<token> <network> <address>"; a unix address starting with "@" is a Linux
# abstract socket); the first line the driver sends on it is the token. Answers are lines "cajon-warm:<token> <json>" on stdout, so that they
# are ordered with Blender's own output (stderr is merged into stdout): the
# plugin knows which output belongs to which request.
#
# Written for the Python of Blender 3.0 to 5.x (3.9+); Blender API
# differences are detected, not assumed from the version.

import atexit
import builtins
import json
import os
import re
import socket
import sys
import time
import traceback
import types

import bpy

# Blender's frame limits (DNA_scene_types.h): the command line clamps frames
# to MINAFRAME..MAXFRAME, the Python API to 0..MAXFRAME.
MINAFRAME, MAXFRAME = -1048574, 1048574
INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
# Paths longer than this are cut by Blender's command line (FILE_MAX).
FILE_MAX = 1024

# --render-format names, as Blender's command line reads them
# (BKE_imtype_from_arg), and the file_format each one means. Movie formats
# are not here: a movie spans frames, which tasks of one frame cannot share.
FORMATS = {
    "TGA": "TARGA",
    "RAWTGA": "TARGA_RAW",
    "JPEG": "JPEG",
    "IRIS": "IRIS",
    "PNG": "PNG",
    "BMP": "BMP",
    "HDR": "HDR",
    "TIFF": "TIFF",
    "OPEN_EXR": "OPEN_EXR",
    "OPEN_EXR_MULTILAYER": "OPEN_EXR_MULTILAYER",
    "EXR": "OPEN_EXR",
    "MULTILAYER": "OPEN_EXR_MULTILAYER",
    "JP2": "JPEG2000",
    "CINEON": "CINEON",
    "DPX": "DPX",
    "WEBP": "WEBP",
}
MOVIE_FORMATS = {"FFMPEG", "AVI_JPEG", "AVI_RAW"}

NUMBER = re.compile(r"[+-]?[0-9]+\Z")
TAG_ENV = "CAJON_RUN_ID"


class Unsupported(Exception):
    """The request asks for something this driver cannot do exactly as
    Blender's command line would: the plugin renders it cold instead."""


def parse_relative(text, pos, neg, what):
    """One number as Blender's command line reads it (parse_int_relative):
    +N is pos + N, -N is neg - N + 1, N is N."""
    if not NUMBER.match(text):
        raise Unsupported("%s %r is not a number" % (what, text))
    if text[0] == "+":
        value = pos + int(text[1:])
    elif text[0] == "-":
        value = (neg - int(text[1:])) + 1
    else:
        value = int(text)
    if value < INT_MIN or value > INT_MAX:
        raise Unsupported("%s %r exceeds Blender's range" % (what, text))
    return value


def clamp(value, low, high):
    return max(low, min(high, value))


def parse_frames(text, sfra, efra):
    """A --render-frame list ("5", "1..10", "1,3,7..9", "+1", "-1") as
    Blender reads it (parse_int_range_relative_clamp_n): ranges of frames."""
    ranges = []
    for item in text.split(","):
        if item == "":
            raise Unsupported("--render-frame %r: empty item" % text)
        first, dots, last = item.partition("..")
        if dots and last == "":
            raise Unsupported("--render-frame %r: open range" % text)
        a = clamp(parse_relative(first, sfra, efra, "--render-frame"), MINAFRAME, MAXFRAME)
        b = a
        if dots:
            b = clamp(parse_relative(last, sfra, efra, "--render-frame"), MINAFRAME, MAXFRAME)
        if a > b:
            raise Unsupported("--render-frame %r: a reversed range (Blender skips it)" % text)
        if a < 0:
            raise Unsupported("--render-frame %r: negative frames" % text)
        ranges.append((a, b))
    return ranges


def flush_c_stdio_fn():
    """fflush(NULL) of the C library Blender prints with, or None."""
    try:
        import ctypes

        if sys.platform == "win32":
            libc = ctypes.CDLL("ucrtbase")
        else:
            libc = ctypes.CDLL(None)
        fn = libc.fflush
        fn.argtypes = [ctypes.c_void_p]
        return fn
    except Exception:
        return None


def context_scene():
    """The scene Blender's command line works on: the context's own scene,
    not the one of the window a --python script gets."""
    if hasattr(bpy.context, "temp_override"):
        with bpy.context.temp_override(window=None):
            return bpy.context.scene
    return bpy.context.scene


def render_animation(scene):
    """bpy.ops.render.render(animation=True) on scene, with the context of
    Blender's command line (no window). Render errors are reports that
    Blender prints itself, as on its command line; they do not stop the task."""
    try:
        if hasattr(bpy.context, "temp_override"):
            with bpy.context.temp_override(window=None, scene=scene):
                bpy.ops.render.render(animation=True)
        else:  # Blender 3.0, 3.1: a context dictionary
            ctx = bpy.context.copy()
            ctx["window"] = None
            ctx["scene"] = scene
            bpy.ops.render.render(ctx, animation=True)
    except RuntimeError:
        pass


def set_frame_range(scene, start, end):
    """Sets the scene's frame range; the Python API moves the other end
    along when they cross, so set them in the order that does not."""
    if start > scene.frame_end:
        scene.frame_end = end
        scene.frame_start = start
    else:
        scene.frame_start = start
        scene.frame_end = end
    if (scene.frame_start, scene.frame_end) != (start, end):
        raise RuntimeError("could not set the frame range %d..%d (got %d..%d)" % (start, end, scene.frame_start, scene.frame_end))


def format_settings(imf):
    """Every plain setting of an ImageFormatSettings but its file format."""
    out = {}
    for prop in imf.bl_rna.properties:
        if prop.identifier in ("rna_type", "file_format") or prop.type in ("POINTER", "COLLECTION"):
            continue
        try:
            value = getattr(imf, prop.identifier)
        except Exception:
            continue
        if hasattr(value, "__len__") and not isinstance(value, str):
            value = tuple(value)
        out[prop.identifier] = value
    return out


def uses_simulation_zones():
    for group in bpy.data.node_groups:
        for node in group.nodes:
            if node.bl_idname in ("GeometryNodeSimulationInput", "GeometryNodeSimulationOutput"):
                return True
    return False


def handler_fingerprint():
    """What survives a reload of the file in the application handlers
    (persistent ones): if a reload changes it, the scene's scripts keep state
    across reloads and a reused Blender is no longer like a fresh one."""
    out = []
    handlers = bpy.app.handlers
    for name in sorted(dir(handlers)):
        if name.startswith("_"):
            continue
        value = getattr(handlers, name)
        if isinstance(value, list):
            out.append((name, tuple("%s.%s" % (getattr(f, "__module__", "?"), getattr(f, "__qualname__", type(f).__name__)) for f in value)))
    return tuple(out)


# A warm frame must be the frame a fresh Blender renders. Reloading the file
# resets everything stored in it, but not what the file's scripts (run at
# load with autoexec, or add-ons) keep in the interpreter: attributes of
# bpy.types classes, modules and their globals, bpy.app.driver_namespace,
# handlers, add-ons, the environment, preferences. The driver takes a
# summary of all that after the first load, as a fresh Blender has it when
# it renders, and again after each reload: any difference means the next
# task would not start from a fresh Blender's state, and the session is not
# reused (the plugin renders the job's next tasks cold, saying why).

# SUMMARY_ITEMS bounds how much of one container a summary reads.
SUMMARY_ITEMS = 50
SIMPLE_TYPES = (int, float, complex, str, bytes, bool, type(None))
CODE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, types.ModuleType)


def summarize(value, depth=0):
    """A comparable summary of a value: plain values and small containers
    by content, functions, classes and modules by name, other objects by
    type (their identity changes with every reload)."""
    if isinstance(value, SIMPLE_TYPES):
        text = repr(value)
        return text if len(text) <= 200 else "%s of %d characters, hash %d" % (type(value).__name__, len(text), hash(text))
    if depth < 3 and isinstance(value, (tuple, list)):
        return (type(value).__name__, len(value), tuple(summarize(v, depth + 1) for v in value[:SUMMARY_ITEMS]))
    if depth < 3 and isinstance(value, (set, frozenset)):
        return (type(value).__name__, len(value), tuple(sorted(repr(summarize(v, depth + 1)) for v in list(value)[:SUMMARY_ITEMS])))
    if depth < 3 and isinstance(value, dict):
        items = list(value.items())[:SUMMARY_ITEMS]
        return ("dict", len(value), tuple(sorted((repr(k), repr(summarize(v, depth + 1))) for k, v in items)))
    if isinstance(value, CODE_TYPES):
        return ("code", getattr(value, "__module__", None) or getattr(value, "__name__", "?"), getattr(value, "__qualname__", getattr(value, "__name__", "?")))
    return ("object", type(value).__module__, type(value).__qualname__)


CONTAINER_TYPES = (tuple, list, set, frozenset, dict)


# The C-level attributes of Blender's own classes, the bulk of them: their
# kind is their summary.
DESCRIPTOR_TYPES = {
    t: ("descriptor", t.__name__)
    for t in (types.GetSetDescriptorType, types.MemberDescriptorType, types.MethodDescriptorType,
              types.WrapperDescriptorType, types.ClassMethodDescriptorType, types.BuiltinFunctionType)
}


class Summaries:
    """summarize with a memory between calls of interpreter_state: the
    summaries of values that cannot change in place (plain values,
    functions, classes, modules, opaque objects) by id, each value kept so
    that its id is not reused; only what the last state saw is kept."""

    def __init__(self):
        self.last, self.now = {}, {}

    def new_round(self):
        self.last, self.now = self.now, {}

    def __call__(self, value):
        kind = DESCRIPTOR_TYPES.get(type(value))
        if kind is not None:
            return kind
        if isinstance(value, CONTAINER_TYPES):
            return summarize(value)
        key = id(value)
        hit = self.now.get(key) or self.last.get(key)
        if hit is None or hit[0] is not value:
            hit = (value, summarize(value))
        self.now[key] = hit
        return hit[1]


SUMMARIES = Summaries()


def namespace(mapping, skip=()):
    """The summaries of a namespace's names, dunders left out."""
    try:
        items = list(mapping.items())
    except Exception:
        return {}
    return {k: SUMMARIES(v) for k, v in items if isinstance(k, str) and k not in skip and not (k.startswith("__") and k.endswith("__"))}


def bundled_dirs():
    """Folders of code that comes with Blender and Python: modules from
    there may be imported by a render itself (lazily) and keep no scene
    state; every other module is the scene's or the studio's."""
    import sysconfig

    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(path)
    for kind in ("LOCAL", "SYSTEM"):
        try:
            path = bpy.utils.resource_path(kind)
        except Exception:
            path = ""
        if path:
            dirs.add(path)
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def scene_module(name, module, bundled):
    """Whether a module may hold the scene's or a studio's state: not
    built into Blender, and not from Blender's or Python's own folders.
    Text blocks of the file run as modules without a file of their own."""
    if name in sys.builtin_module_names:
        return False
    path = getattr(module, "__file__", None)
    if not path:
        return True
    return not os.path.realpath(path).startswith(bundled)


def rna_properties(struct):
    """The properties of an RNA struct with their values: (prop, identifier,
    value), rna_type and those that cannot be read left out."""
    for prop in struct.bl_rna.properties:
        ident = prop.identifier
        if ident == "rna_type":
            continue
        try:
            value = getattr(struct, ident)
        except Exception:
            continue
        yield prop, ident, value


def rna_settings(struct, depth=0):
    """The plain settings of an RNA struct (preferences), nested ones to a
    small depth."""
    out = {}
    for prop, ident, value in rna_properties(struct):
        if prop.type == "POINTER":
            if depth < 1 and value is not None and hasattr(value, "bl_rna"):
                out[ident] = tuple(sorted(rna_settings(value, depth + 1).items()))
        elif prop.type == "COLLECTION":
            if depth < 1:
                out[ident] = tuple(tuple(sorted(rna_settings(v, depth + 1).items())) for v in list(value)[:SUMMARY_ITEMS] if hasattr(v, "bl_rna"))
        else:
            out[ident] = summarize(tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else value)
    return out


def interpreter_state(bundled):
    """What a reload of the file leaves alone, by section: each a dict of
    name -> summary."""
    SUMMARIES.new_round()
    state = {}
    cls_attrs = {}
    for name in dir(bpy.types):
        cls = getattr(bpy.types, name, None)
        if isinstance(cls, type):
            for attr, summary in namespace(getattr(cls, "__dict__", {}), skip=("bl_rna",)).items():
                cls_attrs["bpy.types.%s.%s" % (name, attr)] = summary
    state["bpy.types"] = cls_attrs
    modules = {}
    for name, module in list(sys.modules.items()):
        if module is None:
            continue
        if scene_module(name, module, bundled):
            for attr, summary in namespace(getattr(module, "__dict__", {})).items():
                modules["%s.%s" % (name, attr)] = summary
            modules[name] = "module"
    for name in ("builtins", "__main__", "bpy", "bpy.app"):
        module = sys.modules.get(name)
        if module is not None:
            for attr, summary in namespace(getattr(module, "__dict__", {})).items():
                modules["%s.%s" % (name, attr)] = summary
    state["modules"] = modules
    addons = {}
    prefs = bpy.context.preferences
    for name in prefs.addons.keys():
        addons[name] = "enabled"
        module = sys.modules.get(name)
        if module is not None:
            for attr, summary in namespace(getattr(module, "__dict__", {})).items():
                addons["%s.%s" % (name, attr)] = summary
        addon_prefs = prefs.addons[name].preferences
        if addon_prefs is not None:
            for attr, summary in rna_settings(addon_prefs).items():
                addons["%s preferences.%s" % (name, attr)] = summary
    state["add-ons"] = addons
    state["bpy.app.driver_namespace"] = namespace(bpy.app.driver_namespace)
    state["bpy.app.handlers"] = dict(handler_fingerprint())
    settings = {}
    for section in ("system", "edit", "filepaths", "experimental"):
        struct = getattr(prefs, section, None)
        if struct is not None:
            for attr, summary in rna_settings(struct).items():
                settings["preferences.%s.%s" % (section, attr)] = summary
    state["preferences"] = settings
    env = {k: repr(v) for k, v in os.environ.items() if k != TAG_ENV}
    env["(working folder)"] = repr(os.getcwd())
    env["(sys.path)"] = repr(sys.path)
    state["environment"] = env
    return state


def state_changes(before, after, limit=3):
    """What differs between two interpreter_state results, for a person:
    None when nothing does."""
    diffs = []
    for section in before:
        a, b = before[section], after.get(section, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) == b.get(name):
                continue
            if name not in a:
                diffs.append("%s: %s appeared" % (section, name))
            elif name not in b:
                diffs.append("%s: %s went away" % (section, name))
            else:
                diffs.append("%s: %s changed from %s to %s" % (section, name, short(a[name]), short(b[name])))
    if not diffs:
        return None
    more = "" if len(diffs) <= limit else "; and %d more differences" % (len(diffs) - limit)
    return "; ".join(diffs[:limit]) + more


def short(summary):
    text = summary if isinstance(summary, str) else repr(summary)
    return text if len(text) <= 80 else text[:77] + "..."


def atexit_count():
    """How many functions atexit holds (CPython's count; 0 where it has none)."""
    count = getattr(atexit, "_ncallbacks", None)
    return count() if count is not None else 0


def window_scene():
    """The scene of the first window, which a script's bpy.context.scene is."""
    windows = bpy.context.window_manager.windows
    return windows[0].scene if len(windows) > 0 else None


def exit_status(code):
    """The status Python's sys.exit(code) ends a process with."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr, flush=True)
    return 1


def run_script(arg, value, exit_code):
    """Runs one --python FILE or --python-expr CODE as Blender's command line
    does: in a fresh __main__ module of its own (__file__ the absolute path,
    or "<blender string>"), an exception printed as Blender prints it and
    the next argument applied all the same, unless --python-exit-code set a
    status to exit with. Returns that exit status when a cold Blender would
    exit here, else None."""
    sys.stdout.flush()
    if arg == "--python-expr":
        source, filename, main_file, what = value, "<string>", "<blender string>", "expr"
    else:
        filename = main_file = os.path.abspath(value)
        what = "file"
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError as e:
            source = None
            print('Error: Python: OSError: Python file "%s" could not be opened: %s' % (filename, e.strerror), flush=True)
    ok = False
    if source is not None:
        main = types.ModuleType("__main__")
        main.__dict__.update(__builtins__=builtins.__dict__, __file__=main_file)
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = main
        try:
            exec(compile(source, filename, "exec"), main.__dict__)
            ok = True
        except SystemExit as e:
            return exit_status(e.code)
        except BaseException:
            etype, err, tb = sys.exc_info()
            # Without the driver's own frames; a compile error has none of
            # the script's.
            tb = tb.tb_next if tb is not None else None
            while tb is not None and tb.tb_frame.f_code.co_filename != filename:
                tb = tb.tb_next
            text = "".join(traceback.format_exception(etype, err, tb))
            print("Error: Python: " + text.rstrip("\n"), flush=True)
        finally:
            sys.modules["__main__"] = saved
    if not ok and exit_code:
        print("\nError: script failed, %s: '%s', exiting." % (what, value), flush=True)
        return exit_code
    return None


class Restorable:
    """What a task's scripts may change that the driver puts back before the
    reload, as a fresh Blender has it: the environment, the working folder,
    sys.path and the preferences (Blender's and each add-on's plain
    settings; OPTIX's job type sets Cycles' compute device there). What it
    cannot put back, the state check after the reload sees."""

    def __init__(self):
        self.environ = dict(os.environ)
        self.cwd = os.getcwd()
        self.path = list(sys.path)
        self.prefs = {name: settings_of(struct) for name, struct in preference_structs()}

    def restore(self):
        for k in [k for k in os.environ if k not in self.environ]:
            del os.environ[k]
        for k, v in self.environ.items():
            if os.environ.get(k) != v:
                os.environ[k] = v
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        if sys.path != self.path:
            sys.path[:] = self.path
        # Twice: a setting's update may change another one (the compute
        # device type refreshes the device list).
        for _ in range(2):
            for name, struct in preference_structs():
                if name in self.prefs:
                    put_settings(struct, self.prefs[name])


def preference_structs():
    prefs = bpy.context.preferences
    out = []
    for section in ("system", "edit", "filepaths", "experimental", "view", "inputs"):
        struct = getattr(prefs, section, None)
        if struct is not None:
            out.append(("preferences." + section, struct))
    for name in prefs.addons.keys():
        struct = prefs.addons[name].preferences
        if struct is not None:
            out.append(("add-on " + name, struct))
    return out


def settings_of(struct, depth=0):
    """The writable plain settings of an RNA struct, and of the items of its
    collections (Cycles' device list) one level down."""
    out = {}
    for prop, ident, value in rna_properties(struct):
        if prop.type == "COLLECTION":
            if depth < 1:
                out[ident] = ("items", [settings_of(v, depth + 1) for v in value if hasattr(v, "bl_rna")])
        elif prop.type != "POINTER" and not prop.is_readonly:
            if prop.type == "ENUM" and prop.is_enum_flag:
                value = set(value)
            elif hasattr(value, "__len__") and not isinstance(value, str):
                value = tuple(value)
            out[ident] = ("value", value)
    return out


def put_settings(struct, settings):
    for ident, (kind, value) in settings.items():
        try:
            now = getattr(struct, ident)
            if kind == "items":
                items = [v for v in now if hasattr(v, "bl_rna")]
                if len(items) == len(value):
                    for item, item_settings in zip(items, value):
                        put_settings(item, item_settings)
                continue
            if isinstance(value, set):
                now = set(now)
            elif hasattr(now, "__len__") and not isinstance(now, str):
                now = tuple(now)
            if now != value:
                setattr(struct, ident, value)
        except Exception:
            pass  # the state check after the reload judges what is left


class LateUnsupported(Exception):
    """Like Unsupported, found only once the task started: an argument after
    a script could not be checked before the script ran."""


# Arguments that run a script, as Blender's command line runs them.
SCRIPT_ARGS = ("-P", "--python", "--python-expr")
EXIT_CODE = re.compile(r"[0-9]{1,3}\Z")


class Plan:
    """The steps of one request, checked before any of them runs. Arguments
    after a script are checked when they are reached: the script may change
    what they depend on (the scene's frame range, its format)."""

    def __init__(self, args):
        self.steps = []
        self.frames = {}  # scene key -> [sfra, efra] as the arguments leave them
        self.formats = {}  # scene key -> file_format as the arguments leave it
        self.scene = context_scene()
        if self.scene is None:
            raise Unsupported("the file has no scene to render")
        self.exit_code = 0  # --python-exit-code, as the arguments so far set it
        scripted = False
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                break  # Blender reads no option past it: the rest is for scripts
            value = None
            if arg in ("-a", "--render-anim"):
                i += 1
            else:
                if i + 1 >= len(args):
                    raise Unsupported("%s without a value" % arg)
                value = args[i + 1]
                i += 2
            if arg in SCRIPT_ARGS:
                scripted = True
                self.steps.append(("script", None, arg, value))
            elif arg == "--python-exit-code":
                if not EXIT_CODE.match(value) or int(value) > 255:
                    raise Unsupported("--python-exit-code %r (Blender wants 0 to 255)" % value)
                self.steps.append(("exit-code", None, int(value)))
            elif scripted:
                self.steps.append(("later", None, arg, value))
            else:
                self.add(arg, value)

    def add(self, arg, value):
        """Checks one argument against the scene as it is now and adds its
        steps."""
        if arg in ("-a", "--render-anim"):
            self.check_render(animation=True)
            self.steps.append(("anim", self.scene))
        elif arg in ("-S", "--scene"):
            self.scene_arg(value)
        elif arg in ("-o", "--render-output"):
            if len(value.encode("utf-8")) >= FILE_MAX:
                raise Unsupported("--render-output longer than Blender takes")
            self.steps.append(("output", self.scene, value))
        elif arg in ("-F", "--render-format"):
            self.format_arg(value)
        elif arg in ("-E", "--engine"):
            self.engine_arg(value)
        elif arg in ("-x", "--use-extension"):
            if value[:1] not in ("0", "1"):
                raise Unsupported("--use-extension %r (Blender wants 0 or 1)" % value)
            self.steps.append(("extension", self.scene, value[:1] == "1"))
        elif arg in ("-s", "--frame-start", "-e", "--frame-end"):
            self.range_arg(arg, value)
        elif arg in ("-j", "--frame-jump"):
            if not NUMBER.match(value) or not INT_MIN <= int(value) <= INT_MAX:
                raise Unsupported("--frame-jump %r is not a number" % value)
            self.steps.append(("jump", self.scene, clamp(int(value), 1, MAXFRAME)))
        elif arg in ("-f", "--render-frame"):
            sfra, efra = self.range()
            ranges = parse_frames(value, sfra, efra)
            self.check_render(animation=False)
            if sfra > efra:
                raise Unsupported("the scene's frame range %d..%d is reversed" % (sfra, efra))
            self.steps.append(("frames", self.scene, ranges))
        else:
            raise Unsupported("argument %r" % arg)

    def key(self, scene):
        return scene.name_full if hasattr(scene, "name_full") else scene.name

    def range(self):
        k = self.key(self.scene)
        if k not in self.frames:
            self.frames[k] = [self.scene.frame_start, self.scene.frame_end]
        return self.frames[k]

    def scene_arg(self, name):
        matches = [s for s in bpy.data.scenes if s.name == name]
        if len(matches) > 1:
            raise Unsupported("more than one scene is called %r" % name)
        if matches:
            self.scene = matches[0]
            self.steps.append(("scene", self.scene, name))
        else:
            self.steps.append(("no-scene", None, name))

    def format_arg(self, name):
        ident = FORMATS.get(name)
        if ident is None:
            raise Unsupported("--render-format %r" % name)
        imf = self.scene.render.image_settings
        k = self.key(self.scene)
        if self.formats.get(k, imf.file_format) != imf.file_format:
            raise Unsupported("more than one --render-format for one scene")
        before, settings = imf.file_format, format_settings(imf)
        # Blender's command line (3.x) sets only the format; the Python API
        # also adapts the color depth and mode to it. Equal only when it
        # leaves them alone.
        try:
            imf.file_format = ident
        except TypeError:
            raise Unsupported("--render-format %s is not available in this Blender" % name)
        changed = format_settings(imf) != settings
        imf.file_format = before
        if changed:
            # The session is not used again after a refusal; put back what
            # can be put back all the same.
            for prop, value in settings.items():
                try:
                    setattr(imf, prop, value)
                except Exception:
                    pass
            raise Unsupported("--render-format %s with the scene's %s settings: Blender's command line "
                              "would keep a color depth or mode that the Python API changes" % (name, before))
        if format_settings(imf) != settings:
            raise RuntimeError("restoring the scene's image format changed its settings")
        self.formats[k] = ident
        self.steps.append(("format", self.scene, ident))

    def engine_arg(self, name):
        if name == "help":
            raise Unsupported("--engine help")
        render = self.scene.render
        before = render.engine
        try:
            render.engine = name
            ok = render.engine == name
        except TypeError:
            ok = False
        render.engine = before
        if not ok:
            raise Unsupported("--engine %r is not one this Blender has" % name)
        self.steps.append(("engine", self.scene, name))

    def range_arg(self, arg, value):
        r = self.range()
        start = arg in ("-s", "--frame-start")
        base = r[0] if start else r[1]
        v = clamp(parse_relative(value, base, base - 1, arg), MINAFRAME, MAXFRAME)
        if v < 0:
            raise Unsupported("%s %r: negative frames" % (arg, value))
        if (start and v > r[1]) or (not start and v < r[0]):
            raise Unsupported("%s %r: Blender's Python API would move the other end of the range" % (arg, value))
        r[0 if start else 1] = v
        self.steps.append(("start" if start else "end", self.scene, v))

    def check_render(self, animation):
        scene = self.scene
        fmt = self.formats.get(self.key(scene), scene.render.image_settings.file_format)
        if fmt in MOVIE_FORMATS:
            raise Unsupported("movie output (%s)" % fmt)
        if getattr(scene.render, "use_persistent_data", False):
            raise Unsupported("the scene keeps render data between renders (Persistent Data)")
        if not animation:
            # A frame of --render-frame renders as an animation of that one
            # frame: the scene's range reads that frame meanwhile.
            if getattr(scene.render, "use_stamp_frame_range", False):
                raise Unsupported("the scene stamps its frame range into the images")
            if uses_simulation_zones():
                raise Unsupported("simulation nodes (they depend on the scene's frame range)")

    def run(self):
        """Runs the steps; returns the status a cold Blender would exit
        with when a script ends it (sys.exit, or a failed script after
        --python-exit-code), else None."""
        scenes = None  # the scenes before the last script, when one ran
        for step in self.steps:
            kind = step[0]
            if kind == "script":
                scenes = (context_scene(), window_scene())
                status = run_script(step[2], step[3], self.exit_code)
                if status is not None:
                    return status
                # What the plan read from the scene may be stale now.
                self.frames.clear()
                self.formats.clear()
            elif kind == "exit-code":
                self.exit_code = step[2]
            elif kind == "later":
                if scenes is not None and scenes != (context_scene(), window_scene()):
                    raise LateUnsupported("a script switched the scene before %s" % step[2])
                steps, self.steps = self.steps, []
                try:
                    self.add(step[2], step[3])
                except Unsupported as e:
                    raise LateUnsupported(str(e))
                finally:
                    steps, self.steps = self.steps, steps
                for s in steps:
                    self.do(s)
            else:
                self.do(step)
        return None

    def do(self, step):
        kind, scene = step[0], step[1]
        if kind == "scene":
            print("Scene switch for render: '%s' in file: '%s'" % (step[2], bpy.data.filepath), flush=True)
            windows = bpy.context.window_manager.windows
            if len(windows) > 0:
                windows[0].scene = scene
        elif kind == "no-scene":
            print("Can't find scene: '%s' in file: '%s'" % (step[2], bpy.data.filepath), flush=True)
        elif kind == "output":
            scene.render.filepath = step[2]
        elif kind == "format":
            scene.render.image_settings.file_format = step[2]
        elif kind == "engine":
            scene.render.engine = step[2]
        elif kind == "extension":
            scene.render.use_file_extension = step[2]
        elif kind == "start":
            scene.frame_start = step[2]
        elif kind == "end":
            scene.frame_end = step[2]
        elif kind == "jump":
            scene.frame_step = step[2]
        elif kind == "anim":
            render_animation(scene)
        elif kind == "frames":
            for a, b in step[2]:
                for frame in range(a, b + 1):
                    self.render_frame(scene, frame)

    def render_frame(self, scene, frame):
        # Blender's --render-frame renders each frame as an animation of
        # that one frame (RE_RenderAnim(frame, frame)).
        start, end = scene.frame_start, scene.frame_end
        set_frame_range(scene, frame, frame)
        try:
            render_animation(scene)
        finally:
            set_frame_range(scene, start, end)


class Driver:
    def __init__(self, token, sock):
        self.token = token
        self.sock = sock
        self.reader = sock.makefile("r", encoding="utf-8", newline="\n")
        self.fflush = flush_c_stdio_fn()
        self.session_tag = os.environ.get(TAG_ENV, "")
        self.bundled = bundled_dirs()
        self.restorable = None  # what the running task may change, as it was before
        self.blend = bpy.data.filepath
        self.exit_funcs_ran = False
        self.persistent = sorted(s.name for s in bpy.data.scenes if getattr(s.render, "use_persistent_data", False))

    def answer(self, **event):
        """Writes an answer after everything Blender printed before it."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.fflush is not None:
            self.fflush(None)
        line = "cajon-warm:%s %s\n" % (self.token, json.dumps(event))
        os.write(1, line.encode("utf-8"))

    def serve(self):
        # After the first load: what a fresh Blender has when it renders.
        # Where it cannot be told, the session serves its first task (as a
        # fresh Blender) and is not reused.
        try:
            fingerprint = interpreter_state(self.bundled)
        except Exception:
            fingerprint = "the driver could not summarize the interpreter's state after the first load:\n" + traceback.format_exc()
        self.answer(ev="hello", version=bpy.app.version_string)
        while True:
            line = self.reader.readline()
            if not line:
                return  # the plugin closed the socket: quit like a cold Blender
            req = json.loads(line)
            if req.get("op") != "render":
                return
            self.render(req)
            fingerprint = self.reload(fingerprint)
            if fingerprint is None:
                return

    def render(self, req):
        rid = req["id"]
        try:
            self.restorable = Restorable()
        except Exception:
            self.restorable = None
            self.answer(ev="unsupported", id=rid, why="the driver could not take note of the preferences and environment:\n" + traceback.format_exc())
            return
        os.environ[TAG_ENV] = req.get("tag", self.session_tag)
        sys.argv[:] = req["argv"]
        try:
            plan = Plan(req["args"])
        except Unsupported as e:
            self.answer(ev="unsupported", id=rid, why=str(e))
            return
        except Exception:
            self.answer(ev="unsupported", id=rid, why="the driver could not read the arguments:\n" + traceback.format_exc())
            return
        self.answer(ev="start", id=rid)
        exit_funcs = atexit_count()
        try:
            status = plan.run()
            if atexit_count() > exit_funcs:
                # A cold Blender runs what the task's scripts registered with
                # atexit when it exits, at the end of the task (a function
                # that hangs there is what exit_timeout is for): run them
                # now. Python runs them all, Blender's own too, so this
                # Blender is not used again.
                self.exit_funcs_ran = True
                atexit._run_exitfuncs()
        except LateUnsupported as e:
            self.answer(ev="unsupported", id=rid, why=str(e), started=True)
            return
        except Exception:
            self.answer(ev="failed", id=rid, why=traceback.format_exc())
            return
        self.answer(ev="done", id=rid, exit_code=status or 0)

    def reload(self, fingerprint):
        """Reloads the file for the next request; None when this Blender
        should not be reused."""
        start = time.monotonic()
        # Persistent Data keeps a render's data in the process for the next
        # render: turned on by a script, it would carry into the next task.
        persistent = sorted(s.name for s in bpy.data.scenes if getattr(s.render, "use_persistent_data", False))
        if persistent != self.persistent:
            self.answer(ev="ready", reusable=False, why="not warm-safe: a script turned on Persistent Data in scene %s, "
                        "which keeps render data in the Blender for its next render" % ", ".join(repr(n) for n in persistent))
            return None
        if self.exit_funcs_ran:
            self.answer(ev="ready", reusable=False, why="not warm-safe: a script registered a function with atexit, "
                        "which the driver ran at the end of the task as a cold Blender's exit would, with Python's own")
            return None
        # The reload reads the file Blender has open now: a script that opened
        # or saved another one would have the next task render that.
        if bpy.data.filepath != self.blend:
            self.answer(ev="ready", reusable=False, why="not warm-safe: a script left another blend file open (%s, not %s)" % (bpy.data.filepath, self.blend))
            return None
        restorable, self.restorable = self.restorable, None
        if restorable is not None:
            try:
                restorable.restore()
            except Exception:
                self.answer(ev="ready", reusable=False, why="not warm-safe: putting back the preferences and environment failed:\n" + traceback.format_exc())
                return None
        os.environ[TAG_ENV] = self.session_tag
        try:
            bpy.ops.wm.revert_mainfile()
        except Exception:
            self.answer(ev="ready", reusable=False, why="reloading the blend file failed:\n" + traceback.format_exc())
            return None
        if isinstance(fingerprint, str):
            why = fingerprint
        else:
            try:
                why = state_changes(fingerprint, interpreter_state(self.bundled))
                if why is not None:
                    why = ("the scene's scripts keep state that a reload of the file does not reset, "
                           "so the next task would not start as in a fresh Blender: " + why)
            except Exception:
                why = "the driver could not summarize the interpreter's state after the reload:\n" + traceback.format_exc()
        if why is not None:
            self.answer(ev="ready", reusable=False, why="not warm-safe: " + why)
            return None
        self.answer(ev="ready", reusable=True, reload_s=time.monotonic() - start)
        return fingerprint


def connect(network, address):
    if network == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if address.startswith("@"):
            address = "\0" + address[1:]  # a Linux abstract socket
        sock.connect(address)
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)))


def main():
    spec = os.environ.pop("CAJON_BLENDER_WARM", "")
    parts = spec.split(" ", 2)
    if len(parts) != 3:
        print("cajon warm driver: CAJON_BLENDER_WARM is not set; nothing to do", file=sys.stderr)
        return
    token, network, address = parts
    if not bpy.app.background:
        print("cajon warm driver: Blender is not in background mode (-b); nothing to do", file=sys.stderr)
        return
    # One stream for all of Blender's output, so answers are ordered with it.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.dup2(1, 2)
    except OSError:
        pass
    sock = connect(network, address)
    sock.sendall((token + "\n").encode("utf-8"))
    Driver(token, sock).serve()


main()
