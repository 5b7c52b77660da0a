package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// fileConfig is the shape of cajon.toml. Pointers tell which keys a file sets.
// D is what durations decode into: string in the first pass, so that a number
// where a duration belongs is a type error with its line; durationText in the
// second pass, so that a malformed duration is reported with its line too (go-toml
// only positions text-unmarshaling errors of string values).
type fileConfig[D any] struct {
	StateDir          *string   `toml:"state_dir"`
	LogLevel          *string   `toml:"log_level"`
	LogFormat         *string   `toml:"log_format"`
	PluginDirs        *[]string `toml:"plugin_dirs"`
	PluginIdleTimeout *D        `toml:"plugin_idle_timeout"`
	MaxLogBytes       *int64    `toml:"max_log_bytes"`
	KillGrace         *D        `toml:"kill_grace"`
	TaskTypes         *[]string `toml:"task_types"`
	OOMScoreAdjust    *int      `toml:"oom_score_adjust"`
	StallTimeout      *D        `toml:"stall_timeout"`
	MaxTaskMemory     *int64    `toml:"max_task_memory"`

	Manager  fileManager[D]  `toml:"manager"`
	Local    fileLocal[D]    `toml:"local"`
	LogStore fileLogStore[D] `toml:"log_store"`
	Metrics  fileMetrics[D]  `toml:"metrics"`
	Files    fileFiles       `toml:"files"`
	Worker   fileWorker      `toml:"worker"`

	Workstation fileWorkstation[D] `toml:"workstation"`

	Plugins map[string]map[string]any `toml:"plugins"`
}

type fileManager[D any] struct {
	URL                  *string `toml:"url"`
	WorkerName           *string `toml:"worker_name"`
	RestartExitCode      *int    `toml:"restart_exit_code"`
	MayIRunInterval      *D      `toml:"may_i_run_interval"`
	AsleepPollInterval   *D      `toml:"asleep_poll_interval"`
	FetchBackoffMax      *D      `toml:"fetch_backoff_max"`
	EventStream          *bool   `toml:"event_stream"`
	EventMayIRunInterval *D      `toml:"event_may_i_run_interval"`
	EventFetchBackoffMax *D      `toml:"event_fetch_backoff_max"`
	RequestTimeout       *D      `toml:"request_timeout"`
	FinishTaskOnShutdown *bool   `toml:"finish_task_on_shutdown"`
	UpdateQueueHighWater *int    `toml:"update_queue_high_water"`
	MaxUpdateLogBytes    *int    `toml:"max_update_log_bytes"`
}

type fileLocal[D any] struct {
	Slots        *int `toml:"slots"`
	KeepFinished *D   `toml:"keep_finished"`
}

type fileLogStore[D any] struct {
	MaxTotalBytes *int64 `toml:"max_total_bytes"`
	MaxAge        *D     `toml:"max_age"`
}

type fileMetrics[D any] struct {
	Listen              *string `toml:"listen"`
	ManagerAnswerMaxAge *D      `toml:"manager_answer_max_age"`
	WebConfigFile       *string `toml:"web_config_file"`
}

type fileFiles struct {
	AllowedRoots *[]string `toml:"allowed_roots"`
}

type fileWorkstation[D any] struct {
	X11Displays    *[]string `toml:"x11_displays"`
	Logind         *bool     `toml:"logind"`
	SessionDir     *string   `toml:"session_dir"`
	IdleBeforeWork *D        `toml:"idle_before_work"`
	OnActivity     *string   `toml:"on_activity"`
	PollInterval   *D        `toml:"poll_interval"`
}

// durationText is a duration written as a string in cajon.toml ("10s").
type durationText struct{ d time.Duration }

// UnmarshalText parses the duration; go-toml adds the key and line to the error.
func (t *durationText) UnmarshalText(text []byte) error {
	d, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf(`invalid duration %q (write it like "10s", "5m" or "1h30m")`, text)
	}
	t.d = d
	return nil
}

// decodeFile reads one cajon.toml strictly. path is only used in messages.
func decodeFile(path string, data []byte) (layer, error) {
	var typed fileConfig[string]
	if err := decodeStrict(data, &typed); err != nil {
		return layer{}, fileDecodeError(path, err)
	}
	var parsed fileConfig[durationText]
	if err := decodeStrict(data, &parsed); err != nil {
		return layer{}, fileDecodeError(path, err)
	}
	values := map[string]any{}
	flattenFile(reflect.ValueOf(parsed), "", values)
	ids, err := identitiesOf(parsed.Worker)
	if err != nil {
		return layer{}, fmt.Errorf("config file %s: %w", path, err)
	}
	return layer{values: values, plugins: parsed.Plugins, identities: ids}, nil
}

func decodeStrict(data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// flattenFile collects the keys a decoded fileConfig sets, with values of the
// matching Config field's type. The plugin tables are handled apart.
func flattenFile(v reflect.Value, prefix string, out map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		key := prefix + t.Field(i).Tag.Get("toml")
		field := v.Field(i)
		switch field.Kind() {
		case reflect.Struct:
			flattenFile(field, key+".", out)
		case reflect.Pointer:
			if _, ok := lookupSetting(key); field.IsNil() || !ok {
				continue // unset, or a table handled apart ([[worker.identities]])
			}
			value := field.Elem().Interface()
			if d, ok := value.(durationText); ok {
				value = d.d
			}
			out[key] = value
		}
	}
}

// fileError is a problem at one place in one config file.
type fileError struct {
	path   string
	line   int
	column int // 0 when the line is precise enough
	msg    string
	cause  error
}

func (e *fileError) Error() string {
	if e.column > 0 {
		return fmt.Sprintf("config file %s, line %d, column %d: %s", e.path, e.line, e.column, e.msg)
	}
	return fmt.Sprintf("config file %s, line %d: %s", e.path, e.line, e.msg)
}

func (e *fileError) Unwrap() error { return e.cause }

// fileDecodeError turns go-toml's errors into messages that name the file, line and
// key, and for a wrong type the type the key needs.
func fileDecodeError(path string, err error) error {
	var strictErr *toml.StrictMissingError
	if errors.As(err, &strictErr) {
		known := append(Keys(), "manager", "local", "log_store", "metrics", "files", "plugins", "workstation",
			"worker", identitiesKey, identitiesKey+".name", identitiesKey+".env", identitiesKey+".task_types", identitiesKey+".max_task_memory",
			identitiesKey+".gpu", identitiesKey+".cycles_device")
		errs := make([]error, 0, len(strictErr.Errors))
		for i := range strictErr.Errors {
			de := &strictErr.Errors[i]
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			errs = append(errs, &fileError{path: path, line: line, cause: de,
				msg: fmt.Sprintf("unknown key %q%s", key, suggestion(key, known))})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	line, column := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	key := strings.Join(de.Key(), ".")
	if got := mismatchedType(msg); got != "" && expectedType(key) != "" {
		return &fileError{path: path, line: line, cause: de,
			msg: fmt.Sprintf("%s must be %s, not %s", key, expectedType(key), article(got))}
	}
	if key != "" {
		return &fileError{path: path, line: line, cause: de, msg: key + ": " + msg}
	}
	return &fileError{path: path, line: line, column: column, cause: de, msg: msg}
}

// mismatchedType pulls the TOML type of the value out of go-toml's type mismatch
// message ("cannot decode TOML string into ..."), or "" for other messages.
func mismatchedType(msg string) string {
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	if !ok {
		return ""
	}
	typ, _, ok := strings.Cut(rest, " into ")
	if !ok {
		return ""
	}
	return typ
}

// article puts "a" or "an" before a TOML type name.
func article(typ string) string {
	if typ != "" && strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an " + typ
	}
	return "a " + typ
}
