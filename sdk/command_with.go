package sdk

import "reflect"

// NewCommandWith declares a command like NewCommand, but each run's value is
// made by newT instead of new(T): it may carry plugin-wide state in
// unexported fields (a cache, a pool of warm application sessions) that
// outlives one run. newT must return a new value each time; the SDK then
// fills its parameter fields from the task.
func NewCommandWith[T any, PT interface {
	*T
	Runner
}](name, taskType, description string, newT func() PT) Command {
	c := NewCommand[T, PT](name, taskType, description)
	c.make = func() (Runner, reflect.Value) {
		p := newT()
		return p, reflect.ValueOf(p).Elem()
	}
	return c
}
