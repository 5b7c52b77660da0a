// Package sdk is the Cajon plugin SDK.
//
// A Cajon plugin is a small executable named cajon-plugin-<name> that provides
// one or more commands (for example "echo" or "blender-render"). The Cajon host
// starts it, asks it to Describe itself, and sends it one Run request per
// command of a task. The SDK does the handshake with the host, the gRPC
// plumbing, parameter decoding, batching of log lines and cancellation.
//
// A plugin author writes one type per command. The type's fields are the
// command's parameters, described by struct tags, and its Run method does the
// work:
//
//	// Echo logs a message.
//	type Echo struct {
//		Message string `param:"message,required" desc:"Text to write to the task log."`
//	}
//
//	func (e *Echo) Run(ctx context.Context, run *sdk.Run) error {
//		run.Log(e.Message)
//		return nil
//	}
//
//	func main() {
//		sdk.Serve(sdk.Plugin{
//			Name:     "hello",
//			Version:  "1.0.0",
//			Commands: []sdk.Command{sdk.NewCommand[Echo]("echo", "misc", "Log a message.")},
//		})
//	}
//
// Returning nil completes the command; returning an error fails it with the
// error's text; when ctx is cancelled the command is being aborted and should
// return promptly (Run.Exec does that by itself, killing the whole process tree).
//
// Child processes must be started with Run.Exec so that they are contained:
// an abort then kills every process the command started, however it tried to
// escape (new session, double fork, ignored SIGTERM). When the worker caps
// the command's memory (max_task_memory) in a cgroup of its own, Run.Exec
// also starts the processes in that cgroup (Run.Cgroup), so the kernel holds
// their whole tree to the cap; a plugin has nothing to do for it.
//
// Beside this package: sdk/process runs contained child processes for a
// command that needs more control than Run.Exec gives, and sdk/sdktest runs
// commands in a test. sdk/wire and sdk/proto are the contract between the
// host and a plugin (handshake, limits, parameter rules, the messages); a
// plugin written with this package does not need them.
//
// The SDK is its own Go module, github.com/cajonfarm/cajon/sdk; docs/PLUGINS.md
// says how to build a plugin with it outside the Cajon repository.
package sdk
