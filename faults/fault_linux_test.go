package faults

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// scenario is one fault: what breaks, what Cajon must do, and how the test
// proves that nothing was lost. The texts are printed in the summary and
// kept in step with docs/FAULTS.md.
type scenario struct {
	name   string
	fault  string
	expect string
	check  string
	run    func(t *testing.T)
}

// scenarios lists the suite in the order it runs.
func scenarios() []scenario {
	return []scenario{
		// The Manager.
		{"manager-down",
			"the Manager goes away (connection refused) in the middle of a task, until 10 updates are queued",
			"the task keeps running; its updates wait in the queue and go out once the Manager is back",
			"every log line delivered exactly once and in order; statuses active, completed; no protocol errors",
			testManagerDown},
		{"manager-slow",
			"sign-on, schedule-task, may-i-run and task-update answers delayed 3 s, beyond the 1 s request timeout",
			"the worker gives up on each slow request and retries; the task is not aborted",
			"every log line exactly once and in order; statuses active, completed; the task handed out once",
			testManagerSlow},
		{"manager-5xx-bursts",
			"bursts of 500/502/503 (with Retry-After)/504 on every endpoint while a job of 4 tasks runs",
			"every request is retried with backoff; no update dropped, no task failed",
			"each task's lines exactly once and in order; statuses active, completed; each task handed out once",
			testManager5xxBursts},
		{"manager-resets",
			"bursts of TCP resets (no answer) on every endpoint while a job of 4 tasks runs",
			"reset requests are retried as network errors",
			"each task's lines exactly once and in order; statuses active, completed; each task handed out once",
			testManagerResets},
		{"manager-malformed-json",
			"sign-on, schedule-task, may-i-run, state-changed and task-update answered with a cut-off JSON body after the Manager acted on them",
			"a bad answer is retried like a network error: the task handed out again is run once, updates are sent again",
			"the command ran once; every line arrived, first arrivals in order; statuses active, completed (repeats of a resent status allowed)",
			testManagerMalformedJSON},
		{"manager-413-proxy",
			"a proxy with nginx's 1 MiB body limit in front of the task-update route; a task prints 3 MB of log (pieces set to 4 MiB); and a proxy that lets through less than 1 KiB",
			"updates are halved on 413 until they fit; when even a small log is refused, the status goes without it and a note says where the full log is",
			"all lines exactly once, completed, handed out once; then: completed, the note names the full log file, which holds every line; an error names the task",
			testManager413Proxy},
		{"manager-redirect",
			"register, sign-on, schedule-task and may-i-run redirected (302, 303, 307, 308) to another port, task-update 301'd to itself, state-changed 307'd to itself",
			"no redirect to another origin or that changes the method is followed; each is retried with the Location in the log; the same-origin 307 is followed",
			"the other port got no request at all; one worker; every line exactly once; statuses active, completed; no protocol errors",
			testManagerRedirect},
		{"manager-null-commands",
			"tasks handed out with commands null, with a command without a name, and of a task type the worker did not sign on with",
			"each is refused: reported failed with what was wrong, an error in the worker log, never run; the next task runs",
			"the bad tasks end failed by the Manager's limits, their logs name the problem; the next task's lines exactly once",
			testManagerNullCommands},
		// Plugins.
		{"plugin-crash",
			"the plugin process exits in the middle of a command",
			"that task fails with a message naming the plugin; the next task gets a fresh plugin process",
			"statuses active, failed then active, completed; the failure names the plugin; a new plugin pid; no process left",
			testPluginCrash},
		{"plugin-hang",
			"the plugin ignores the abort of a cancelled task (blocks forever)",
			"after grace + 10 s the host kills the plugin and its tree; the task is not reported failed; the worker goes on",
			"the hung plugin's pid is gone; statuses active only; the reason is in the task's log; the next task completes",
			testPluginHang},
		{"plugin-garbage",
			"invalid UTF-8, binary bytes and NULs on a command's stdout and stderr, in the plugin's own log and activity, and on the plugin process's stdout and stderr",
			"the bytes reach the log as valid UTF-8 (U+FFFD); the task completes; the plugin is not killed",
			"markers before and after the garbage arrived; the log is valid UTF-8; the same plugin pid; no protocol errors",
			testPluginGarbage},
		{"plugin-100mb-line",
			"one 100 MB line without a newline, printed by a child process and logged by the plugin itself",
			"the line is cut into 64 KiB pieces; the Manager gets at most max_log_bytes and a marker; host memory stays bounded",
			"both tasks complete; log on the Manager <= max_log_bytes + marker; host peak RSS grows far less than 100 MB",
			testPlugin100MBLine},
		{"plugin-missing",
			"the plugin binary is deleted after the worker started",
			"its commands fail with an error naming the missing binary; other plugins keep working; a restored binary is used again",
			"statuses: failed with the path, then completed for another plugin and for the restored one; no process left",
			testPluginMissing},
		{"plugin-not-executable",
			"the plugin binary loses its execute permission while its process is stopped (idle timeout)",
			"its commands fail with permission denied, naming the binary; other plugins keep working; chmod +x recovers",
			"statuses: failed with the reason, then completed for another plugin and after the chmod; no process left",
			testPluginNotExecutable},
		{"plugin-big-parameter",
			"a task's echo message is 5 MiB while another command runs in the same exec plugin (a second slot)",
			"the task fails before it starts, naming the parameter, its size and the 4 MiB limit; the other command goes on",
			"statuses active, failed with the message; the other command ends only when aborted, by the plugin; the same exec pid; the next task completes",
			testPluginBigParameter},
		{"plugins-check-hang",
			"`cajon plugins check` of a shell-script plugin that never does the handshake and whose child keeps stdout open; SIGTERM in the middle of the check",
			"every step has a deadline; the signal ends the check at once: the step it was in is a FAIL row saying so, the plugin is killed with its tree",
			"exit 1 within 30 s of the SIGTERM; the table names the step and the signal; no process left",
			testPluginsCheckHang},
		{"no-tmp-leftovers",
			"TMPDIR is a folder of the test's own: `cajon plugins`, `local submit` + `local run`, a plugin that exits in the middle of a command (its socket not removed), and a SIGKILL of cajon while a command runs",
			"plugin sockets and private folders live in the state dir's run folder, removed when a process ends; a killed cajon's folder is swept by the next cajon",
			"TMPDIR empty and the run folder empty after every step; after the SIGKILL the next `cajon plugins` sweeps the folder left",
			testNoTmpLeftovers},
		{"metrics-flood",
			"400 idle connections to the metrics port of a real `cajon local run` whose RLIMIT_NOFILE is 256, while a job of 6 tasks runs",
			"the metrics server holds at most 1/8 of the descriptors (32 connections); a new connection takes the place of the oldest silent one; tasks keep their logs; /healthz answers",
			"the job completes; every task's full log is on disk; /healthz answers 200 with the connections open; no \"too many open files\"; clean exit",
			testMetricsFlood},
		// The update queue.
		{"queue-disk-full",
			"the real cajon runs with RLIMIT_FSIZE at 256 KiB while the Manager is down, so the queue's files cannot grow",
			"one clear error naming the queue file; updates the disk refuses are held in memory, in order; cajon keeps running",
			"when the Manager returns (disk still full) every line and the final status arrive once, in order; clean exit",
			testQueueDiskFull},
		{"queue-corrupt",
			"the queue database holds garbage at start: a whole file of it, or a valid queue with pages overwritten",
			"the file is moved aside with a warning naming both paths; the worker starts with an empty queue and works",
			"the moved file holds the original bytes; the next task's lines exactly once and in order",
			testQueueCorrupt},
		// The host.
		{"memory-cgroup-crash",
			"SIGKILL of the real cajon (max_task_memory = 256 MiB) while a command runs in its memory cgroup; then a command that allocates 300 MiB",
			"the next cajon removes the dead worker's run cgroup at start-up and says so; the kernel kills the 300 MiB command in its own cgroup",
			"the dead worker's cgroups gone; the first task completes on the rerun; the hog fails naming the cap and its peak; no cgroup left after the task nor after the stop (skipped without a memory cgroup to manage)",
			testMemoryCgroupCrash},
		{"host-sigkill",
			"SIGKILL of the real cajon in the middle of a task that runs an escaping process tree, with updates queued",
			"the plugin and the whole tree die with the host; after a restart the queued updates go out first, then the task runs again",
			"no tree process left; the queued lines of the first run delivered once, in order; the rerun's lines exactly once; completed",
			testHostSIGKILL},
		{"host-sighup",
			"SIGHUP of the real cajon in the middle of a task that runs an escaping process tree",
			"a clean stop as for SIGTERM: the task aborted (not failed), its tree killed, updates delivered, signed off; the log names SIGHUP",
			"exit 0; no tree process left; statuses active only, the task requeued; the lines printed before the stop once and in order",
			testHostSIGHUP},
		{"abort-100-cycles",
			"100 tasks, each running a process tree that setsids, double-forks and ignores SIGTERM, cancelled once it is up",
			"each abort kills the whole tree (grace 100 ms); the task is not reported failed",
			"zero surviving processes; open fds and goroutines of the host back to their level after 5 warm-up cycles",
			testAbortCycles},
	}
}

// TestFault runs every scenario as TestFault/<name> and prints a summary.
// Run one with: make faults FAULT=<name>
func TestFault(t *testing.T) {
	if os.Getenv(suiteEnv) != "1" {
		t.Skipf("the fault suite runs with `make faults` (or %s=1 go test -race -v -run TestFault ./faults/)", suiteEnv)
	}
	type row struct {
		sc      scenario
		result  string
		elapsed time.Duration
	}
	var rows []row
	for _, sc := range scenarios() {
		ran, skipped := false, false
		start := time.Now()
		ok := t.Run(sc.name, func(t *testing.T) {
			ran = true
			// Registered first, so it runs after every cleanup of the
			// scenario (plugins closed, workers stopped).
			t.Cleanup(func() {
				skipped = t.Skipped()
				checkNoDescendants(t, 15*time.Second)
			})
			t.Logf("fault:  %s", sc.fault)
			t.Logf("expect: %s", sc.expect)
			t.Logf("check:  %s", sc.check)
			sc.run(t)
		})
		if !ran {
			continue
		}
		result := "PASS"
		switch {
		case !ok:
			result = "FAIL"
		case skipped:
			result = "SKIP"
		}
		rows = append(rows, row{sc, result, time.Since(start)})
	}
	w := os.Stdout
	fmt.Fprintf(w, "\nFault suite summary\n%-24s %-6s %8s  %s\n", "scenario", "result", "time", "fault -> expected behaviour")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.result]++
		fmt.Fprintf(w, "%-24s %-6s %7.1fs  %s\n%40s-> %s\n", r.sc.name, r.result, r.elapsed.Seconds(), r.sc.fault, "", r.sc.expect)
	}
	fmt.Fprintf(w, "scenarios: %d pass, %d fail, %d skip\n%s\n", counts["PASS"], counts["FAIL"], counts["SKIP"], strings.Repeat("-", 60))
}
