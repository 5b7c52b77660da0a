package main

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits on what a tracker keeps for the failure message.
const (
	maxProblems         = 20 // problems kept; later ones are only counted
	maxProblemLines     = 12 // lines kept of one multi-line problem (a traceback)
	maxProblemLineBytes = 500
)

// problem is something Blender complained about.
type problem struct {
	kind lineKind // lineError, lineMissing or lineCrash
	text string   // may span lines (a Python traceback)
}

// tracker follows Blender's output of one render: which frame it is on,
// how many frames are finished, which files it wrote and what went wrong.
type tracker struct {
	prefixed bool // Blender 5's prefixed format seen

	frame     int
	haveFrame bool
	// counted is true once the current frame was counted as finished, so
	// that its several Saved lines (stereo views) and its Time line count
	// as one step.
	counted bool
	done    int64
	// saved counts the frames Blender said it wrote (Saved) or found
	// written (skipping existing frame); savedThis is true once the current
	// frame counted. A Time line alone does not count: Blender prints it
	// after a frame it could not save too.
	saved     int64
	savedThis bool

	problems      []problem
	extraProblems int
	// inTraceback is true while the lines after a Python error belong to it.
	inTraceback bool
	crashFile   string
}

// update is what one line changed.
type update struct {
	frameDone bool   // a frame finished: done was incremented
	activity  string // new activity text ("" = none)
	saved     string // a file Blender wrote
	// frameEnd: Blender is through with a frame (Time:, or it skipped an
	// existing one); nothing more of that frame follows.
	frameEnd bool
}

// pythonException ends a traceback: "RuntimeError: boom".
var pythonException = regexp.MustCompile(`^[\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b`)

// feed reads one line.
func (t *tracker) feed(raw string) update {
	if !t.prefixed && prefix5.MatchString(raw) {
		t.prefixed = true
	}
	l := parseLine(raw, t.prefixed)
	if t.inTraceback && t.continueTraceback(l) {
		return update{}
	}
	var u update
	switch l.kind {
	case lineFra:
		if !t.haveFrame || l.frame != t.frame {
			t.frame, t.haveFrame, t.counted, t.savedThis = l.frame, true, false, false
		}
		u.activity = fraActivity(l)
	case lineSaved:
		u.saved = l.path
		u.frameDone = t.finishFrame()
		t.countSaved()
	case lineSkipped:
		u.frameEnd = true
		t.counted = false
		u.frameDone = t.finishFrame()
		t.counted = false
		t.savedThis = false
		t.countSaved()
		t.savedThis = false
	case lineTime:
		u.frameEnd = true
		u.frameDone = t.finishFrame()
		// Whatever comes next belongs to the next frame, even when Blender
		// prints no Fra lines (Workbench).
		t.counted, t.savedThis = false, false
	case lineError, lineMissing:
		t.addProblem(l.kind, strings.TrimSpace(l.text))
		t.inTraceback = strings.Contains(l.text, "Python:")
	case lineCrash:
		t.crashFile = strings.Clone(l.path)
		t.addProblem(lineCrash, "Blender crashed; its crash report is "+l.path)
	}
	if u.frameDone {
		if t.haveFrame {
			u.activity = fmt.Sprintf("frame %d done", t.frame)
		} else {
			u.activity = fmt.Sprintf("%d frames done", t.done)
		}
	}
	return u
}

// throughAll reports whether u, what the latest line changed, ends a
// render of total frames: Blender is through with a frame and said it
// saved (or found) every frame asked for. With total 0 (the count depends
// on the scene) it never does.
func (t *tracker) throughAll(u update, total int64) bool {
	return u.frameEnd && total > 0 && t.saved >= total
}

// finishFrame counts the current frame as finished, once.
func (t *tracker) finishFrame() bool {
	if t.counted {
		return false
	}
	t.counted = true
	t.done++
	return true
}

// countSaved counts the current frame as written, once.
func (t *tracker) countSaved() {
	if !t.savedThis {
		t.savedThis = true
		t.saved++
	}
}

// continueTraceback adds a line to the Python error being read and says
// whether it belonged to it. Traceback lines are indented; the exception
// line that ends it is not.
func (t *tracker) continueTraceback(l blenderLine) bool {
	text := l.text
	indented := strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t")
	switch {
	case l.kind == lineOther && indented && strings.TrimSpace(text) != "":
		t.appendToProblem(text)
		return true
	case l.kind == lineOther && pythonException.MatchString(text):
		t.appendToProblem(text)
		t.inTraceback = false
		return true
	}
	t.inTraceback = false
	return false
}

func (t *tracker) addProblem(kind lineKind, text string) {
	if len(t.problems) >= maxProblems {
		t.extraProblems++
		return
	}
	t.problems = append(t.problems, problem{kind: kind, text: clip(text)})
}

func (t *tracker) appendToProblem(line string) {
	if len(t.problems) == 0 || t.extraProblems > 0 {
		return
	}
	p := &t.problems[len(t.problems)-1]
	switch n := strings.Count(p.text, "\n") + 1; {
	case n < maxProblemLines:
		p.text += "\n" + clip(line)
	case n == maxProblemLines:
		p.text += "\n  ..."
	}
}

// clip shortens a line for the failure message. It returns a copy: a line
// from sdk/process shares its memory with the whole read it came in.
func clip(s string) string {
	if len(s) <= maxProblemLineBytes {
		return strings.Clone(s)
	}
	cut := maxProblemLineBytes
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// utf8Start reports whether b can begin a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// fraActivity turns a Fra line into the activity text.
func fraActivity(l blenderLine) string {
	if l.samples > 0 {
		return fmt.Sprintf("frame %d, sample %d/%d", l.frame, l.sample, l.samples)
	}
	if l.status == "" {
		return fmt.Sprintf("frame %d", l.frame)
	}
	return fmt.Sprintf("frame %d, %s", l.frame, l.status)
}

// problemsOf returns the problems of the given kinds.
func (t *tracker) problemsOf(kinds ...lineKind) []problem {
	var out []problem
	for _, p := range t.problems {
		for _, k := range kinds {
			if p.kind == k {
				out = append(out, p)
			}
		}
	}
	return out
}

// summary lists problems for a failure message, one per paragraph.
func summary(ps []problem, extra int) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.text)
	}
	if extra > 0 {
		fmt.Fprintf(&b, "\n(and %d more problems, see the task log)", extra)
	}
	return b.String()
}
