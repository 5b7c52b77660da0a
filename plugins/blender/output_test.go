package main

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		prefixed bool
		want     blenderLine
	}{
		{"3.x cycles sample", "Fra:12 Mem:10.02M (Peak 10.83M) | Time:00:00.08 | Mem:0.84M, Peak:0.84M | Scene, ViewLayer | Sample 40/128", false,
			blenderLine{kind: lineFra, frame: 12, sample: 40, samples: 128, status: "Scene, ViewLayer | Sample 40/128"}},
		{"3.x cycles status", "Fra:1 Mem:9.40M (Peak 10.83M) | Time:00:00.08 | Mem:0.00M, Peak:0.00M | Scene, ViewLayer | Updating Scene BVH | Building BVH 0%", false,
			blenderLine{kind: lineFra, frame: 1, status: "Scene, ViewLayer | Updating Scene BVH | Building BVH 0%"}},
		{"3.x cycles remaining", "Fra:1 Mem:10.13M (Peak 10.83M) | Time:00:00.02 | Remaining:00:00.00 | Mem:0.84M, Peak:0.84M | Scene, ViewLayer, left | Sample 1/4", false,
			blenderLine{kind: lineFra, frame: 1, sample: 1, samples: 4, status: "Scene, ViewLayer, left | Sample 1/4"}},
		{"3.x eevee", "Fra:2 Mem:10.78M (Peak 11.89M) | Time:00:04.18 | Rendering 26 / 64 samples", false,
			blenderLine{kind: lineFra, frame: 2, sample: 26, samples: 64, status: "Rendering 26 / 64 samples"}},
		{"negative frame", "Fra:-5 Mem:1M | Time:00:00.00 | Syncing Cube", false,
			blenderLine{kind: lineFra, frame: -5, status: "Syncing Cube"}},
		{"3.x saved", "Saved: '/tmp/bl/out/000001.png'", false,
			blenderLine{kind: lineSaved, path: "/tmp/bl/out/000001.png"}},
		{"saved path with quote", "Saved: '/a/it's/0001.png'", false,
			blenderLine{kind: lineSaved, path: "/a/it's/0001.png"}},
		{"saved windows path", `Saved: 'C:\render\0001.exr'`, false,
			blenderLine{kind: lineSaved, path: `C:\render\0001.exr`}},
		{"3.x time", " Time: 00:00.23 (Saving: 00:00.14)", false, blenderLine{kind: lineTime}},
		{"3.x error", "Error: Cannot read file '/tmp/bl/nope.blend': No such file or directory", false, blenderLine{kind: lineMissing}},
		{"3.x python error", "Error: Python: Traceback (most recent call last):", false, blenderLine{kind: lineError}},
		{"3.x leak report is noise", "Error: Not freed memory blocks: 2, total unfreed memory 0.000244 MB", false, blenderLine{kind: lineOther}},
		{"EGL error is noise", "EGL Error (0x3001): EGL_NOT_INITIALIZED: EGL is not initialized", false, blenderLine{kind: lineOther}},
		{"3.x unable to open", "Warning: Unable to open '/tmp/bl/lib.blend': No such file or directory", false, blenderLine{kind: lineMissing}},
		{"3.x cannot find lib", "Info: Cannot find lib '/tmp/bl/lib.blend'", false, blenderLine{kind: lineMissing}},
		{"3.x libraries missing", "Warning: 1 libraries and 1 linked data-blocks are missing (including 0 ObjectData and 0 Proxies), please check the Info and Outliner editors for details", false, blenderLine{kind: lineMissing}},
		{"warning not found", "Warning: Path '/textures/wood.png' not found", false, blenderLine{kind: lineMissing}},
		{"other warning", "Warning: negative range ignored '-f / --render-frame 3..1'.", false, blenderLine{kind: lineOther}},
		{"skipped", `skipping existing frame "/tmp/bl/out/000001.png"`, false, blenderLine{kind: lineSkipped, path: "/tmp/bl/out/000001.png"}},
		{"skipped, Blender 5", `Skipping existing frame "/tmp/bl/out/000001.png"`, false, blenderLine{kind: lineSkipped, path: "/tmp/bl/out/000001.png"}},
		{"crash", "Writing: /tmp/scene.crash.txt", false, blenderLine{kind: lineCrash, path: "/tmp/scene.crash.txt"}},
		{"Fra inside text is not a Fra line", "Info: Fra:1 was mentioned", false, blenderLine{kind: lineOther}},
		{"Time inside Fra line is not a Time line", "Fra:1 Mem:1M | Time:00:00.08 | Finished", false, blenderLine{kind: lineFra, frame: 1, status: "Finished"}},
		{"empty saved is not a path", "Saved: ''", false, blenderLine{kind: lineOther}},
		{"plain", "Blender quit", false, blenderLine{kind: lineOther}},

		{"5.x saved", "00:00.327  render           | Saved: '/tmp/0001.png'", false,
			blenderLine{kind: lineSaved, path: "/tmp/0001.png", text: "Saved: '/tmp/0001.png'"}},
		{"5.x time", "02:19.739  render           | Time: 02:19.28 (Saving: 00:00.31)", false,
			blenderLine{kind: lineTime, text: "Time: 02:19.28 (Saving: 00:00.31)"}},
		{"5.x fra", "01:32.969  render           | Fra: 1 | Remaining: 00:29.85 | Mem: 1699M | Sample 96/128", false,
			blenderLine{kind: lineFra, frame: 1, sample: 96, samples: 128, status: "Sample 96/128", text: "Fra: 1 | Remaining: 00:29.85 | Mem: 1699M | Sample 96/128"}},
		{"5.x hours", "01:12:05.100  blend         | WARNING Unable to open '/lib.blend': No such file or directory", false,
			blenderLine{kind: lineMissing, text: "WARNING Unable to open '/lib.blend': No such file or directory"}},
		{"5.x error", "00:18.015  operator         | ERROR Python: Traceback (most recent call last):", false,
			blenderLine{kind: lineError, text: "ERROR Python: Traceback (most recent call last):"}},
		{"5.x leak report is noise", "72:06.000  memory           | ERROR Not freed memory blocks: 3", false,
			blenderLine{kind: lineOther, text: "ERROR Not freed memory blocks: 3"}},
		{"5.x continuation", "                            |   File \"<string>\", line 1", true,
			blenderLine{kind: lineOther, text: "  File \"<string>\", line 1", continuation: true}},
		{"bar line before 5.x format seen", "                            |   File", false,
			blenderLine{kind: lineOther}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseLine(tt.line, tt.prefixed)
			if tt.want.text == "" {
				tt.want.text = tt.line
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLine(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

// feedFile runs a fixture through a tracker and returns it with the files
// it reported and the last activity.
func feedFile(t *testing.T, name string) (*tracker, []string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &tracker{}
	var saved, activities []string
	var doneSeen int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		u := tr.feed(sc.Text())
		if u.saved != "" {
			saved = append(saved, u.saved)
		}
		if u.activity != "" {
			activities = append(activities, u.activity)
		}
		if u.frameDone {
			doneSeen++
			if doneSeen != tr.done {
				t.Fatalf("frameDone reported %d times, done is %d", doneSeen, tr.done)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tr, saved, activities
}

func TestTrackerFixtures(t *testing.T) {
	tests := []struct {
		file       string
		done       int64
		saved      []string
		activities []string // must appear, in this order
		problems   []lineKind
		firstText  string // start of the first problem's text
		crashFile  string
	}{
		{file: "cycles-3.4.log", done: 3,
			saved:      []string{"/tmp/bl/out/000001.png", "/tmp/bl/out/000002.png", "/tmp/bl/out/000003.png"},
			activities: []string{"frame 1, Scene, ViewLayer | Synchronizing object | Cube", "frame 1, sample 1/1", "frame 1 done", "frame 2, sample 0/1", "frame 3 done"}},
		{file: "eevee-3.4.log", done: 1, saved: []string{"/tmp/bl/ee/0002.png"},
			activities: []string{"frame 2, Syncing Cube", "frame 2, sample 26/64", "frame 2, sample 64/64", "frame 2 done"}},
		{file: "workbench-3.4.log", done: 2, saved: []string{"/tmp/bl/wb/0001.jpg", "/tmp/bl/wb/0002.jpg"},
			activities: []string{"1 frames done", "2 frames done"}},
		{file: "stereo-3.4.log", done: 2,
			saved:      []string{"/tmp/bl/st/0001_L.png", "/tmp/bl/st/0001_R.png", "/tmp/bl/st/0002_L.png", "/tmp/bl/st/0002_R.png"},
			activities: []string{"frame 1, sample 4/4", "frame 1 done", "frame 2, sample 1/4", "frame 2 done"}},
		{file: "skip-existing-3.4.log", done: 3, saved: []string{"/tmp/bl/out/000009.png"},
			activities: []string{"1 frames done", "2 frames done", "3 frames done"}},
		{file: "missing-library-3.4.log", done: 1, saved: []string{"/tmp/bl/lk/0001.png"},
			problems:  []lineKind{lineMissing, lineMissing, lineMissing},
			firstText: "Warning: Unable to open '/tmp/bl/lib.blend'"},
		{file: "python-error-3.4.log", done: 1, saved: []string{"/tmp/bl/py/001.png"},
			problems:  []lineKind{lineError},
			firstText: "Error: Python: Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nRuntimeError: boom"},
		{file: "no-blendfile-3.4.log", problems: []lineKind{lineMissing},
			firstText: "Error: Cannot read file '/tmp/bl/nope.blend': No such file or directory"},
		{file: "segfault-3.4.log", problems: []lineKind{lineCrash}, crashFile: "/tmp/scene.crash.txt",
			firstText: "Blender crashed; its crash report is /tmp/scene.crash.txt"},
		{file: "synthetic-5.x.log", done: 3,
			saved:      []string{"/farm/render/s010/000011.png", "/farm/render/s010/it's here/000012.png", "/farm/render/s010/000013.exr"},
			activities: []string{"frame 11, Synchronizing object | Cube", "frame 11, sample 80/128", "frame 11 done", "frame 12, sample 40/128", "frame 12 done", "frame 13, sample 26/64", "frame 13 done"},
			problems:   []lineKind{lineError, lineMissing},
			firstText:  "ERROR Python: Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nNameError: name 'scene' is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr, saved, activities := feedFile(t, tt.file)
			if tr.done != tt.done {
				t.Errorf("done = %d, want %d", tr.done, tt.done)
			}
			if !reflect.DeepEqual(saved, tt.saved) {
				t.Errorf("saved = %q, want %q", saved, tt.saved)
			}
			i := 0
			for _, a := range activities {
				if i < len(tt.activities) && a == tt.activities[i] {
					i++
				}
			}
			if i < len(tt.activities) {
				t.Errorf("activity %q not seen in order; activities were:\n%s", tt.activities[i], strings.Join(activities, "\n"))
			}
			var kinds []lineKind
			for _, p := range tr.problems {
				kinds = append(kinds, p.kind)
			}
			if !reflect.DeepEqual(kinds, tt.problems) {
				t.Errorf("problem kinds = %v, want %v; problems: %+v", kinds, tt.problems, tr.problems)
			}
			if tt.firstText != "" && (len(tr.problems) == 0 || !strings.HasPrefix(tr.problems[0].text, tt.firstText)) {
				t.Errorf("first problem = %+v, want it to start with %q", tr.problems, tt.firstText)
			}
			if tr.crashFile != tt.crashFile {
				t.Errorf("crash file = %q, want %q", tr.crashFile, tt.crashFile)
			}
		})
	}
}

func TestTrackerKeepsProblemsBounded(t *testing.T) {
	tr := &tracker{}
	tr.feed("Error: Python: Traceback (most recent call last):")
	for i := 0; i < 100; i++ {
		tr.feed("  File \"x.py\", line 1, in f " + strings.Repeat("x", 1000))
	}
	for i := 0; i < 3*maxProblems; i++ {
		tr.feed("Error: something")
	}
	if len(tr.problems) != maxProblems || tr.extraProblems != 2*maxProblems+1 {
		t.Errorf("kept %d problems and counted %d more, want %d and %d", len(tr.problems), tr.extraProblems, maxProblems, 2*maxProblems+1)
	}
	if lines := strings.Count(tr.problems[0].text, "\n") + 1; lines != maxProblemLines+1 {
		t.Errorf("traceback kept %d lines, want %d (with the ellipsis)", lines, maxProblemLines+1)
	}
	if len(tr.problems[0].text) > (maxProblemLines+1)*(maxProblemLineBytes+4) {
		t.Errorf("traceback kept %d bytes", len(tr.problems[0].text))
	}
}
