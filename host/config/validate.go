package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/sdk/process"
)

// minUpdateLogBytes is the smallest manager.max_update_log_bytes: below it a
// task's log would take a request for every few lines.
const minUpdateLogBytes = 4 << 10

// logLevels are the hclog levels cajon accepts.
func logLevels() []string { return []string{"trace", "debug", "info", "warn", "error"} }

// validate checks the merged config and reports every problem, each with the value
// and where it came from. It normalizes log_level to lower case and a
// kill_grace of 0 to process.NoGrace.
func validate(cfg *Config, prov *Provenance) error {
	var errs []error
	bad := func(key string, value any, problem string) {
		errs = append(errs, fmt.Errorf("%s = %s (%s): %s", key, valueText(value), prov.Of(key), problem))
	}

	if cfg.StateDir == "" {
		bad("state_dir", cfg.StateDir, "no default state directory could be found (HOME is not set); set state_dir")
	}
	cfg.LogLevel = strings.ToLower(cfg.LogLevel)
	if !slices.Contains(logLevels(), cfg.LogLevel) {
		bad("log_level", cfg.LogLevel, "must be one of "+strings.Join(logLevels(), ", "))
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		bad("log_format", cfg.LogFormat, "must be text or json")
	}
	if slices.Contains(cfg.PluginDirs, "") {
		bad("plugin_dirs", cfg.PluginDirs, "a directory is empty")
	}
	if slices.Contains(cfg.TaskTypes, "") {
		bad("task_types", cfg.TaskTypes, "a task type is empty")
	}

	if n := cfg.OOMScoreAdjust; n < -1000 || n > 1000 {
		bad("oom_score_adjust", n, "must be from -1000 to 1000 (the kernel's range)")
	}

	atLeastZero := func(key string, n int64) {
		if n < 0 {
			bad(key, n, "must be 0 or more")
		}
	}
	atLeastZero("max_log_bytes", cfg.MaxLogBytes)
	atLeastZero("max_task_memory", cfg.MaxTaskMemory)
	atLeastZero("log_store.max_total_bytes", cfg.LogStore.MaxTotalBytes)

	notNegative := func(key string, d time.Duration) {
		if d < 0 {
			bad(key, d, "must not be negative")
		}
	}
	notNegative("plugin_idle_timeout", cfg.PluginIdleTimeout)
	notNegative("kill_grace", cfg.KillGrace)
	notNegative("stall_timeout", cfg.StallTimeout)
	if cfg.KillGrace == 0 {
		// "0s" means no grace; 0 itself would mean the plugins' default.
		cfg.KillGrace = process.NoGrace
	}
	notNegative("log_store.max_age", cfg.LogStore.MaxAge)
	notNegative("local.keep_finished", cfg.Local.KeepFinished)
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, d, "must be more than 0")
		}
	}
	positive("manager.may_i_run_interval", cfg.Manager.MayIRunInterval)
	positive("manager.asleep_poll_interval", cfg.Manager.AsleepPollInterval)
	positive("manager.fetch_backoff_max", cfg.Manager.FetchBackoffMax)
	positive("manager.event_may_i_run_interval", cfg.Manager.EventMayIRunInterval)
	positive("manager.event_fetch_backoff_max", cfg.Manager.EventFetchBackoffMax)
	positive("manager.request_timeout", cfg.Manager.RequestTimeout)

	if cfg.Manager.URL != "" {
		if problem := checkManagerURL(cfg.Manager.URL); problem != "" {
			bad("manager.url", cfg.Manager.URL, problem)
		}
	}
	switch code := cfg.Manager.RestartExitCode; {
	case code < 0 || code > 255:
		bad("manager.restart_exit_code", code, "must be 0 (no restart) or an exit code from 3 to 255")
	case code == 1 || code == 2:
		bad("manager.restart_exit_code", code, "1 and 2 are the exit codes of errors and bad usage, so a "+
			"supervisor could not tell a restart from a failure; use 0 (no restart) or 3 to 255")
	}
	if cfg.Manager.UpdateQueueHighWater < 1 {
		bad("manager.update_queue_high_water", cfg.Manager.UpdateQueueHighWater, "must be 1 or more")
	}
	if cfg.Manager.MaxUpdateLogBytes < minUpdateLogBytes {
		bad("manager.max_update_log_bytes", cfg.Manager.MaxUpdateLogBytes, fmt.Sprintf("must be %d or more", minUpdateLogBytes))
	}
	if cfg.Local.Slots < 1 {
		bad("local.slots", cfg.Local.Slots, "must be 1 or more")
	}
	validateMetrics(cfg, bad)
	validateWorkstation(cfg, bad)
	errs = append(errs, validateIdentities(cfg, prov)...)
	errs = append(errs, validateTrust(cfg, prov)...)
	if _, ok := cfg.Plugins[""]; ok {
		errs = append(errs, errors.New(`[plugins.""]: a plugin table needs a plugin name`))
	}
	for _, name := range sortedKeys(cfg.Plugins) {
		for _, key := range sortedKeys(cfg.Plugins[name]) {
			if value := cfg.Plugins[name][key]; hasNaNOrInf(value) {
				bad(pluginKey(name, key), value, "NaN and infinity cannot be passed to a plugin")
			}
		}
	}
	return errors.Join(errs...)
}

// hasNaNOrInf reports a NaN or infinite float anywhere in a plugin value: plugin
// tables travel as JSON-like structures, which have no such numbers.
func hasNaNOrInf(value any) bool {
	switch v := value.(type) {
	case float64:
		return math.IsNaN(v) || math.IsInf(v, 0)
	case []any:
		return slices.ContainsFunc(v, hasNaNOrInf)
	case map[string]any:
		for _, item := range v {
			if hasNaNOrInf(item) {
				return true
			}
		}
	}
	return false
}

// checkManagerURL says what is wrong with a Manager URL, or "".
func checkManagerURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL: " + err.Error()
	case u.Scheme != "http" && u.Scheme != "https":
		return `must start with http:// or https://, e.g. "http://flamenco-manager:8080"`
	case u.Host == "":
		return `has no host, e.g. "http://flamenco-manager:8080"`
	}
	return ""
}

// validateMetrics checks the [metrics] table.
func validateMetrics(cfg *Config, bad func(key string, value any, problem string)) {
	m := cfg.Metrics
	if m.Listen != "" {
		if _, port, err := net.SplitHostPort(m.Listen); err != nil || port == "" {
			bad("metrics.listen", m.Listen, `must be host:port, e.g. "127.0.0.1:9464" (":9464" listens on every interface)`)
		}
	}
	// An idle awake worker hears from the Manager about every
	// fetch_backoff_max (+10% jitter), an asleep one every
	// asleep_poll_interval: a shorter limit would flap between fetches.
	fetchMax := cfg.Manager.FetchBackoffMax
	if cfg.Manager.EventStream {
		fetchMax = max(fetchMax, cfg.Manager.EventFetchBackoffMax)
	}
	quiet := max(fetchMax+fetchMax/10, cfg.Manager.AsleepPollInterval)
	switch {
	case m.ManagerAnswerMaxAge <= 0:
		bad("metrics.manager_answer_max_age", m.ManagerAnswerMaxAge, "must be more than 0")
	case m.Listen != "" && cfg.Manager.URL != "" && m.ManagerAnswerMaxAge <= quiet:
		bad("metrics.manager_answer_max_age", m.ManagerAnswerMaxAge, fmt.Sprintf(
			"must be longer than the longest quiet time between Manager requests (%s, from manager.fetch_backoff_max, manager.event_fetch_backoff_max and manager.asleep_poll_interval), or /healthz fails between fetches",
			durationString(quiet)))
	}
}

// validateWorkstation checks the [workstation] table.
func validateWorkstation(cfg *Config, bad func(key string, value any, problem string)) {
	ws := cfg.Workstation
	for _, d := range ws.X11Displays {
		if !strings.Contains(d, ":") {
			bad("workstation.x11_displays", ws.X11Displays, fmt.Sprintf(`%q is not an X display name: write it as DISPLAY is written, e.g. ":0"`, d))
			break
		}
	}
	if ws.SessionDir != "" && !filepath.IsAbs(ws.SessionDir) {
		bad("workstation.session_dir", ws.SessionDir, `must be an absolute folder, e.g. "C:\ProgramData\cajon\sessions": the service and the helpers in the users' sessions must find the same one`)
	}
	if ws.OnActivity != OnActivityFinish && ws.OnActivity != OnActivityRequeue {
		bad("workstation.on_activity", ws.OnActivity, `must be "finish" (let the running task end, then take no new one) or "requeue" (abort it at once and hand it back)`)
	}
	if ws.IdleBeforeWork < 0 {
		bad("workstation.idle_before_work", ws.IdleBeforeWork, "must not be negative")
	}
	if ws.PollInterval <= 0 {
		bad("workstation.poll_interval", ws.PollInterval, "must be more than 0")
	} else if ws.Enabled() && ws.IdleBeforeWork > 0 && ws.PollInterval > ws.IdleBeforeWork {
		bad("workstation.poll_interval", ws.PollInterval, fmt.Sprintf(
			"must not be longer than workstation.idle_before_work (%s): input between two polls would go unseen", durationString(ws.IdleBeforeWork)))
	}
}
