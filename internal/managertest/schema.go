package managertest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// fieldKind is the JSON type a request field must have.
type fieldKind int

const (
	kindString fieldKind = iota
	kindBool
	kindInt
	kindStrings
	kindTaskStatus
	kindWorkerStatus
)

type fieldSpec struct {
	name     string
	kind     fieldKind
	required bool
}

// requestFields are the fields of an operation's JSON request body, as the
// Manager's schema (flamenco-openapi.yaml) defines them: WorkerRegistration,
// WorkerSignOn, WorkerStateChanged, TaskUpdate.
func requestFields(op string) []fieldSpec {
	switch op {
	case OpRegister:
		return []fieldSpec{
			{"name", kindString, true},
			{"secret", kindString, true},
			{"platform", kindString, true},
			{"supported_task_types", kindStrings, true},
		}
	case OpSignOn:
		return []fieldSpec{
			{"name", kindString, true},
			{"supported_task_types", kindStrings, true},
			{"software_version", kindString, true},
			{"can_restart", kindBool, false},
		}
	case OpStateChanged:
		return []fieldSpec{{"status", kindWorkerStatus, true}}
	case OpTaskUpdate:
		return []fieldSpec{
			{"taskStatus", kindTaskStatus, false},
			{"activity", kindString, false},
			{"log", kindString, false},
			{"steps_completed", kindInt, false},
		}
	}
	panic("managertest: no request body for op " + op)
}

// values are a checked request body's fields, decoded.
type values map[string]any

func (v values) has(name string) bool { _, ok := v[name]; return ok }

func (v values) str(name string) string { s, _ := v[name].(string); return s }

func (v values) bool(name string) bool { b, _ := v[name].(bool); return b }

func (v values) int(name string) int { n, _ := v[name].(int); return n }

func (v values) strs(name string) []string { s, _ := v[name].([]string); return s }

// checkBody checks a JSON request body against the fields an endpoint
// takes. It is stricter than the real Manager: an unknown field, or a null
// where a value belongs, is an error rather than silently ignored, because
// either one means the worker sent something other than it meant to.
func checkBody(r *http.Request, body []byte, specs []fieldSpec) (values, string) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, fmt.Sprintf("Content-Type %q: want application/json", ct)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, "malformed JSON body: " + err.Error()
	}
	if fields == nil {
		return nil, "the body must be a JSON object, not null"
	}
	var unknown []string
	for name := range fields {
		if !slices.ContainsFunc(specs, func(s fieldSpec) bool { return s.name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		msg := fmt.Sprintf("unknown field %q", unknown[0])
		if near := nearName(unknown[0], specs); near != "" {
			msg += fmt.Sprintf(" (the field is %q)", near)
		}
		return nil, msg
	}

	v := values{}
	for _, s := range specs {
		raw, ok := fields[s.name]
		if !ok {
			if s.required {
				return nil, fmt.Sprintf("missing required field %q", s.name)
			}
			continue
		}
		val, problem := decodeField(raw, s.kind)
		if problem != "" {
			return nil, fmt.Sprintf("field %q: %s", s.name, problem)
		}
		v[s.name] = val
	}
	return v, ""
}

func decodeField(raw json.RawMessage, kind fieldKind) (any, string) {
	if string(raw) == "null" {
		return nil, "null; omit the field instead"
	}
	switch kind {
	case kindString, kindTaskStatus, kindWorkerStatus:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "want a string, got " + string(raw)
		}
		if kind == kindTaskStatus && !knownTaskStatus(s) {
			return nil, fmt.Sprintf("unknown task status %q", s)
		}
		if kind == kindWorkerStatus && !knownWorkerStatus(s) {
			return nil, fmt.Sprintf("unknown worker status %q", s)
		}
		return s, ""
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, "want true or false, got " + string(raw)
		}
		return b, ""
	case kindInt:
		n, err := strconv.Atoi(string(raw))
		if err != nil {
			return nil, "want an integer, got " + string(raw)
		}
		return n, ""
	case kindStrings:
		var ss []string
		if err := json.Unmarshal(raw, &ss); err != nil || ss == nil {
			return nil, "want an array of strings, got " + string(raw)
		}
		return ss, ""
	}
	panic("managertest: unknown field kind")
}

// nearName finds the field a misspelt name probably meant, e.g.
// "task_status" for "taskStatus".
func nearName(name string, specs []fieldSpec) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for _, s := range specs {
		if norm(s.name) == norm(name) {
			return s.name
		}
	}
	return ""
}
