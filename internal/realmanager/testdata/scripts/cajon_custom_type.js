// A job type of Cajon's tests, loaded by the real Manager from the scripts/
// folder beside its binary: one task of a task type that the job names
// (a studio's routing label, e.g. "blender-gpu") with one command that the
// job names, given the job's message.
const JOB_TYPE = {
    label: "Cajon custom task type test",
    settings: [
        { key: "task_type", type: "string", required: true },
        { key: "command", type: "string", required: true },
        { key: "message", type: "string", required: true },
    ]
};

function compileJob(job) {
    const task = author.Task("routed", job.settings.task_type);
    task.addCommand(author.Command(job.settings.command, { message: job.settings.message }));
    job.addTask(task);
}
