package flamenco

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The decoders below check an answer field by field instead of trusting
// json.Unmarshal into a struct: a missing required field would otherwise
// become a silent zero (a task with no commands, a worker with no id), and a
// type error would not say which field of which command was wrong.

// fieldError names the field of an answer that breaks the schema.
type fieldError struct {
	Field   string // e.g. "commands[1].total_step_count"; "" for the whole answer
	Problem string
}

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return "field " + e.Field + ": " + e.Problem
}

// object is one JSON object being checked. The first problem found sticks in err.
type object struct {
	path   string
	fields map[string]json.RawMessage
	err    error
}

func parseObject(path string, data []byte) *object {
	o := &object{path: path}
	if kind := jsonKind(data); kind != "object" {
		o.err = &fieldError{Field: path, Problem: "want a JSON object, got " + kind}
		return o
	}
	if err := json.Unmarshal(data, &o.fields); err != nil {
		o.err = &fieldError{Field: path, Problem: "malformed JSON: " + err.Error()}
	}
	return o
}

func (o *object) name(field string) string {
	if o.path == "" {
		return field
	}
	return o.path + "." + field
}

func (o *object) fail(field, problem string) {
	if o.err == nil {
		o.err = &fieldError{Field: o.name(field), Problem: problem}
	}
}

// raw returns a required field's JSON, or nil after recording it as missing.
func (o *object) raw(field, want string) json.RawMessage {
	if o.err != nil {
		return nil
	}
	v, ok := o.fields[field]
	if !ok {
		o.fail(field, "missing")
		return nil
	}
	if kind := jsonKind(v); kind != want {
		o.fail(field, "want a JSON "+want+", got "+kind)
		return nil
	}
	return v
}

func (o *object) str(field string, dst *string) {
	if v := o.raw(field, "string"); v != nil {
		if err := json.Unmarshal(v, dst); err != nil {
			o.fail(field, err.Error())
		}
	}
}

// nonEmpty is str for fields that identify something.
func (o *object) nonEmpty(field string, dst *string) {
	o.str(field, dst)
	if o.err == nil && *dst == "" {
		o.fail(field, "empty")
	}
}

func (o *object) int(field string, dst *int) {
	v := o.raw(field, "number")
	if v == nil {
		return
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		o.fail(field, "want an integer, got "+string(v))
		return
	}
	*dst = n
}

func (o *object) count(field string, dst *int) {
	o.int(field, dst)
	if o.err == nil && *dst < 0 {
		o.fail(field, "negative: "+strconv.Itoa(*dst))
	}
}

func (o *object) bool(field string, dst *bool) {
	if v := o.raw(field, "boolean"); v != nil {
		*dst = string(v) == "true"
	}
}

func (o *object) strings(field string, dst *[]string) {
	v := o.raw(field, "array")
	if v == nil {
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		o.fail(field, err.Error())
		return
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		var s string
		if kind := jsonKind(item); kind != "string" {
			o.fail(fmt.Sprintf("%s[%d]", field, i), "want a JSON string, got "+kind)
			return
		}
		if err := json.Unmarshal(item, &s); err != nil {
			o.fail(fmt.Sprintf("%s[%d]", field, i), err.Error())
			return
		}
		out = append(out, s)
	}
	*dst = out
}

// jsonKind names the JSON type of v by its first byte; v must be valid JSON
// for the answer to be right, which the later Unmarshal checks.
func jsonKind(v []byte) string {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return "something that is not JSON"
}

// decodeAssignedTask decodes and checks scheduleTask's 200 answer.
func decodeAssignedTask(data []byte) (AssignedTask, error) {
	var t AssignedTask
	o := parseObject("", data)
	o.nonEmpty("uuid", &t.UUID)
	o.nonEmpty("job", &t.Job)
	o.str("name", &t.Name)
	var status string
	o.nonEmpty("status", &status)
	t.Status = TaskStatus(status)
	o.int("priority", &t.Priority)
	o.int("job_priority", &t.JobPriority)
	o.str("job_type", &t.JobType)
	o.nonEmpty("task_type", &t.TaskType)
	o.count("steps_completed", &t.StepsCompleted)
	o.count("steps_total", &t.StepsTotal)
	if cmds := o.raw("commands", "array"); cmds != nil {
		var items []json.RawMessage
		if err := json.Unmarshal(cmds, &items); err != nil {
			o.fail("commands", err.Error())
		}
		t.Commands = make([]Command, 0, len(items))
		for i, item := range items {
			if o.err != nil {
				break
			}
			c, err := decodeCommand(fmt.Sprintf("commands[%d]", i), item)
			if err != nil {
				o.err = err
				break
			}
			t.Commands = append(t.Commands, c)
		}
	}
	if o.err != nil {
		return AssignedTask{}, o.err
	}
	return t, nil
}

// assignedTaskID reads the uuid of a scheduleTask answer that
// decodeAssignedTask refused. isTask is false when the answer is not a
// whole JSON object (cut off, or not JSON): then it is a broken answer
// rather than a bad task. id is "" when the object has no usable uuid.
func assignedTaskID(data []byte) (id string, isTask bool) {
	o := parseObject("", data)
	if o.err != nil {
		return "", false
	}
	o.nonEmpty("uuid", &id)
	if o.err != nil {
		return "", true
	}
	return id, true
}

func decodeCommand(path string, data []byte) (Command, error) {
	var c Command
	o := parseObject(path, data)
	o.nonEmpty("name", &c.Name)
	o.count("total_step_count", &c.TotalStepCount)
	if params := o.raw("parameters", "object"); params != nil {
		if err := json.Unmarshal(params, &c.Parameters); err != nil {
			o.fail("parameters", err.Error())
		}
	}
	if o.err != nil {
		return Command{}, o.err
	}
	return c, nil
}

// decodeMayKeepRunning decodes and checks may-i-run's 200 answer.
func decodeMayKeepRunning(data []byte) (MayKeepRunning, error) {
	var m MayKeepRunning
	o := parseObject("", data)
	o.bool("mayKeepRunning", &m.MayKeepRunning)
	o.str("reason", &m.Reason)
	o.bool("statusChangeRequested", &m.StatusChangeRequested)
	if o.err == nil && m.StatusChangeRequested && m.MayKeepRunning {
		// The schema forbids this pair; obey the stricter half.
		m.MayKeepRunning = false
	}
	if o.err != nil {
		return MayKeepRunning{}, o.err
	}
	return m, nil
}

// decodeStateChange decodes a {status_requested} answer. An unknown status
// is passed on as it is: the worker decides what to do with it.
func decodeStateChange(data []byte) (WorkerStateChange, error) {
	var s string
	o := parseObject("", data)
	o.nonEmpty("status_requested", &s)
	if o.err != nil {
		return WorkerStateChange{}, o.err
	}
	return WorkerStateChange{StatusRequested: WorkerStatus(s)}, nil
}

// decodeRegisteredWorker decodes register-worker's answer. Only the uuid is
// required: it is all the worker needs, and the rest is informational.
func decodeRegisteredWorker(data []byte) (RegisteredWorker, error) {
	var w RegisteredWorker
	o := parseObject("", data)
	o.nonEmpty("uuid", &w.UUID)
	optional := func(field string, dst *string) {
		if v, ok := o.fields[field]; ok && jsonKind(v) != "null" {
			o.str(field, dst)
		}
	}
	optional("name", &w.Name)
	optional("address", &w.Address)
	var status string
	optional("status", &status)
	w.Status = WorkerStatus(status)
	optional("platform", &w.Platform)
	optional("software", &w.Software)
	if v, ok := o.fields["supported_task_types"]; ok && jsonKind(v) != "null" {
		o.strings("supported_task_types", &w.SupportedTaskTypes)
	}
	if o.err != nil {
		return RegisteredWorker{}, o.err
	}
	return w, nil
}

// decodeVersion decodes GET /api/v3/version's answer.
func decodeVersion(data []byte) (Version, error) {
	var v Version
	o := parseObject("", data)
	o.nonEmpty("version", &v.Version)
	o.str("shortversion", &v.ShortVersion)
	o.str("name", &v.Name)
	o.str("git", &v.Git)
	if o.err != nil {
		return Version{}, o.err
	}
	return v, nil
}

// decodeErrorMessage pulls the "message" out of an error answer, or returns
// the start of the body when it is not the Manager's JSON.
func decodeErrorMessage(data []byte) string {
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil && body.Message != "" {
		return body.Message
	}
	return snippet(data)
}

// snippet is the first line of a body, cut short, for error messages.
func snippet(data []byte) string {
	const max = 200
	s := string(bytes.TrimSpace(data))
	if i := bytes.IndexAny([]byte(s), "\r\n"); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > max {
		s = s[:max] + " ..."
	}
	return s
}
