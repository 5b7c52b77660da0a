// A job type of Cajon's tests, loaded by the real Manager from the scripts/
// folder beside its binary: one task of type "misc" with one "exec" command.
// settings.args is a JSON list of strings.
const JOB_TYPE = {
    label: "Cajon exec test",
    settings: [
        { key: "exe", type: "string", required: true },
        { key: "args", type: "string", required: true },
    ]
};

function compileJob(job) {
    const task = author.Task("exec-0", "misc");
    task.addCommand(author.Command("exec", {
        exe: job.settings.exe,
        args: JSON.parse(job.settings.args),
    }));
    job.addTask(task);
}
