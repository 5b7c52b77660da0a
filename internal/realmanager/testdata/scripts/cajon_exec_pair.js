// A job type of Cajon's tests, loaded by the real Manager from the scripts/
// folder beside its binary: two independent tasks of type "misc", each with
// one "exec" command, so that two workers can run them at the same time.
// settings.args_a and settings.args_b are JSON lists of strings.
const JOB_TYPE = {
    label: "Cajon exec pair test",
    settings: [
        { key: "exe", type: "string", required: true },
        { key: "args_a", type: "string", required: true },
        { key: "args_b", type: "string", required: true },
    ]
};

function compileJob(job) {
    for (const [name, args] of [["exec-a", job.settings.args_a], ["exec-b", job.settings.args_b]]) {
        const task = author.Task(name, "misc");
        task.addCommand(author.Command("exec", {
            exe: job.settings.exe,
            args: JSON.parse(args),
        }));
        job.addTask(task);
    }
}
