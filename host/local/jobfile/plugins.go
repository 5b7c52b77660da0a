package jobfile

import "github.com/cajonfarm/cajon/host/plugins"

// RegistryCommands lets a plugin registry validate job files: it is a
// Commands and a CommandTypes.
type RegistryCommands struct{ *plugins.Registry }

// TaskTypeOf is the task type of the command's plugin description.
func (r RegistryCommands) TaskTypeOf(command string) (string, bool) {
	ci, ok := r.Command(command)
	if !ok {
		return "", false
	}
	return ci.TaskType, true
}
