// A job type of Cajon's tests: one render task of type "blender" whose
// blender-render command runs settings.python (a --python-expr) before
// rendering frame 1, as Flamenco's website job types do to pick a GPU.
const JOB_TYPE = {
    label: "Cajon blender python test",
    settings: [
        { key: "blendfile", type: "string", required: true },
        { key: "render_output_path", type: "string", required: true },
        { key: "python", type: "string", required: true },
    ]
};

function compileJob(job) {
    const task = author.Task("render-1", "blender");
    task.addCommand(author.Command("blender-render", {
        exe: "{blender}",
        exeArgs: "{blenderArgs}",
        argsBefore: [],
        blendfile: job.settings.blendfile,
        args: [
            "--python-expr", job.settings.python,
            "--python-expr", "import bpy; bpy.context.scene.cycles.device = 'GPU'",
            "--render-output", job.settings.render_output_path,
            "--render-format", "PNG",
            "--render-frame", "1",
        ],
    }));
    job.addTask(task);
}
