package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/sdk"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/sdktest"
)

type allTypes struct {
	Name   string            `param:"name,required" desc:"a name"`
	Count  int               `param:"count" default:"3"`
	Ratio  float64           `param:"ratio" default:"0.5"`
	On     bool              `param:"on"`
	List   []string          `param:"list" default:"[\"a\",\"b\"]"`
	Env    map[string]string `param:"env"`
	Any    any               `param:"any"`
	hidden string
}

func (a *allTypes) Run(_ context.Context, run *sdk.Run) error {
	run.Logf("name=%s count=%d ratio=%g on=%v list=%v env=%v any=%v", a.Name, a.Count, a.Ratio, a.On, a.List, a.Env, a.Any)
	return nil
}

func testPlugin() sdk.Plugin {
	return sdk.Plugin{Name: "t", Version: "1", Commands: []sdk.Command{sdk.NewCommand[allTypes]("all", "misc", "all types")}}
}

func TestDecodeParams(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]any
		status sdktest.Status
		want   string // substring of the log line or of the failure message
	}{
		{"defaults", map[string]any{"name": "x"}, sdktest.Completed, "name=x count=3 ratio=0.5 on=false list=[a b] env=map[] any=<nil>"},
		{"all set", map[string]any{"name": "y", "count": 7, "ratio": 2, "on": true, "list": []any{"c"}, "env": map[string]any{"K": "V"}, "any": 1.5},
			sdktest.Completed, "name=y count=7 ratio=2 on=true list=[c] env=map[K:V] any=1.5"},
		{"missing required", map[string]any{}, sdktest.Failed, `parameter "name" is required (a string: a name)`},
		{"number as text", map[string]any{"name": 5}, sdktest.Completed, "name=5 "},
		{"wrong type", map[string]any{"name": []any{5.0}}, sdktest.Failed, `parameter "name": expected a string, got a list ([5])`},
		{"fractional integer", map[string]any{"name": "x", "count": 1.5}, sdktest.Failed, `parameter "count": expected an integer, got a number (1.5)`},
		{"list of numbers and booleans", map[string]any{"name": "x", "list": []any{1.0, 23.976, true}}, sdktest.Completed, "list=[1 23.976 true]"},
		{"list holding a table", map[string]any{"name": "x", "list": []any{"a", map[string]any{}}}, sdktest.Failed, `parameter "list": expected a list of strings, but element 1 is a table ({})`},
		{"table of numbers", map[string]any{"name": "x", "env": map[string]any{"N": 2.0}}, sdktest.Completed, "env=map[N:2]"},
		{"integer given as a float", map[string]any{"name": "x", "count": 2.0}, sdktest.Completed, "count=2 "},
		{"several problems at once", map[string]any{"on": "yes"}, sdktest.Failed, `parameter "name" is required (a string: a name); parameter "on": expected a boolean, got a string ("yes")`},
		{"unknown parameters are ignored", map[string]any{"name": "x", "extra": 1}, sdktest.Completed, "name=x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := sdktest.Run(t, testPlugin(), "all", tc.params)
			if res.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", res.Status, res.Message, tc.status)
			}
			got := res.Message
			if tc.status == sdktest.Completed {
				got = strings.Join(res.Lines, "\n")
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d := sdktest.Describe(t, testPlugin())
	if d.GetName() != "t" || d.GetSdkVersion() != sdk.Version || len(d.GetCommands()) != 1 {
		t.Fatalf("describe: %v", d)
	}
	params := d.GetCommands()[0].GetParams()
	want := map[string]pluginv1.ParamType{
		"name": pluginv1.ParamType_PARAM_TYPE_STRING, "count": pluginv1.ParamType_PARAM_TYPE_INTEGER,
		"ratio": pluginv1.ParamType_PARAM_TYPE_NUMBER, "on": pluginv1.ParamType_PARAM_TYPE_BOOL,
		"list": pluginv1.ParamType_PARAM_TYPE_STRING_LIST, "env": pluginv1.ParamType_PARAM_TYPE_STRING_MAP,
		"any": pluginv1.ParamType_PARAM_TYPE_UNSPECIFIED,
	}
	if len(params) != len(want) {
		t.Fatalf("got %d params, want %d (unexported fields must be skipped)", len(params), len(want))
	}
	for _, p := range params {
		if want[p.GetName()] != p.GetType() {
			t.Errorf("%s: type %v, want %v", p.GetName(), p.GetType(), want[p.GetName()])
		}
	}
	if !params[0].GetRequired() || params[1].GetRequired() {
		t.Errorf("required flags wrong: %v", params)
	}
	if got := params[1].GetDefaultValue().GetNumberValue(); got != 3 {
		t.Errorf("default of count = %v, want 3", got)
	}
}

type badTag struct {
	C chan int `param:"c"`
}

func (*badTag) Run(context.Context, *sdk.Run) error { return nil }

type badDefault struct {
	N int `param:"n" default:"many"`
}

func (*badDefault) Run(context.Context, *sdk.Run) error { return nil }

func TestBadDeclarationsAreReported(t *testing.T) {
	for _, c := range []sdk.Command{
		sdk.NewCommand[badTag]("bad", "misc", ""),
		sdk.NewCommand[badDefault]("bad", "misc", ""),
	} {
		srvErr := sdk.Register(nil, sdk.Plugin{Name: "x", Commands: []sdk.Command{c}})
		if srvErr == nil || !strings.Contains(srvErr.Error(), `command "bad"`) {
			t.Errorf("expected an error naming the command, got %v", srvErr)
		}
	}
}

type panics struct{}

func (*panics) Run(context.Context, *sdk.Run) error { panic("boom") }

func TestPanicFailsOnlyTheCommand(t *testing.T) {
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{sdk.NewCommand[panics]("panic", "misc", "")}}
	res := sdktest.Run(t, p, "panic", nil)
	if res.Status != sdktest.Failed || !strings.Contains(res.Message, `command "panic" panicked: boom`) {
		t.Fatalf("got %s %q", res.Status, res.Message)
	}
}

type blocks struct{}

func (*blocks) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("waiting")
	<-ctx.Done()
	return ctx.Err()
}

// stopsBadly fails to clean up when it is aborted.
type stopsBadly struct{}

func (*stopsBadly) Run(ctx context.Context, run *sdk.Run) error {
	run.Log("waiting")
	<-ctx.Done()
	return errors.New("could not remove the scratch folder")
}

// An aborted command ends canceled; its message says only what went wrong
// on the way (a plain abort has none), so the host reads the status.
func TestCancel(t *testing.T) {
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{
		sdk.NewCommand[blocks]("block", "misc", ""),
		sdk.NewCommand[stopsBadly]("stop-badly", "misc", ""),
	}}
	for _, tc := range []struct{ command, message string }{
		{"block", ""},
		{"stop-badly", "could not remove the scratch folder"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			res := sdktest.Run(t, p, tc.command, nil, sdktest.Options{CancelAfter: 50e6})
			if res.Status != sdktest.Canceled || res.Message != tc.message || len(res.Lines) != 1 {
				t.Fatalf("got %+v, want canceled with message %q and the one line", res, tc.message)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	res := sdktest.Run(t, testPlugin(), "nope", nil)
	if res.Status != sdktest.Failed || !strings.Contains(res.Message, `plugin "t" has no command "nope"`) {
		t.Fatalf("got %+v", res)
	}
}

type lines struct{}

func (*lines) Run(_ context.Context, run *sdk.Run) error {
	run.Log("")
	run.Log("first\n\nthird")
	run.Log("é")
	return nil
}

func TestEmptyAndMultiLineLogsSurviveBatching(t *testing.T) {
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{sdk.NewCommand[lines]("lines", "misc", "")}}
	res := sdktest.Run(t, p, "lines", nil)
	if got := strings.Join(res.Lines, "|"); got != "|first||third|é" {
		t.Fatalf("lines %q", got)
	}
}

type badOutput struct{}

func (*badOutput) Run(_ context.Context, run *sdk.Run) error {
	run.Output("/renders/frame-\xff.png", "image/png")
	run.Output("/renders/good.png", "image/png")
	return nil
}

func TestInvalidUTF8OutputDoesNotBreakTheStream(t *testing.T) {
	p := sdk.Plugin{Name: "p", Commands: []sdk.Command{sdk.NewCommand[badOutput]("out", "misc", "")}}
	res := sdktest.Run(t, p, "out", nil)
	if res.Status != sdktest.Completed || len(res.Outputs) != 1 || res.Outputs[0].Path != "/renders/good.png" {
		t.Fatalf("%+v", res)
	}
	if len(res.Lines) != 1 || !strings.Contains(res.Lines[0], `frame-\xff.png`) {
		t.Fatalf("the bad path must be logged: %q", res.Lines)
	}
}
