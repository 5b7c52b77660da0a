package main

import (
	"regexp"
	"strconv"
	"strings"
)

// What a line of Blender's output tells. Blender 3.x and 4.x print plain
// lines; Blender 5 puts "<time>  <channel> | " before each message and
// continues multi-line messages with a blank time and channel.
type lineKind int

const (
	lineOther   lineKind = iota
	lineFra              // "Fra:12 Mem:... | Sample 40/128": rendering progress
	lineSaved            // "Saved: '<path>'": a file was written
	lineTime             // " Time: 00:01.23 (Saving: ...)": a frame is done
	lineError            // "Error: ..." / "ERROR ...": something went wrong
	lineMissing          // a linked library or file could not be read
	lineCrash            // "Writing: <file>.crash.txt": Blender crashed
	lineSkipped          // "skipping existing frame": done without rendering
)

// blenderLine is one parsed line.
type blenderLine struct {
	kind lineKind
	// text is the message without Blender 5's time and channel prefix.
	text string
	// continuation is true for a Blender 5 line that continues the previous
	// message (blank time and channel).
	continuation bool
	// For lineFra: the frame, and the sample counters when the line has them.
	frame           int
	sample, samples int
	status          string
	// For lineSaved, lineSkipped and lineCrash: the file.
	path string
}

var (
	// Blender 5: "00:00.327  render           | " (minutes may exceed 59,
	// hours may appear on long renders).
	prefix5 = regexp.MustCompile(`^(?:\d+:)?\d+:\d\d\.\d+ +[\w.\-]+ *\| ?`)
	// Blender 5 continuation lines: only blanks before the bar.
	continuation5 = regexp.MustCompile(`^ +\| ?`)
	fraLine       = regexp.MustCompile(`^Fra: ?(-?\d+)\b`)
	// Cycles: "Sample 40/128"; EEVEE: "Rendering 26 / 64 samples".
	cyclesSample = regexp.MustCompile(`\bSample (\d+)/(\d+)`)
	eeveeSample  = regexp.MustCompile(`\bRendering (\d+) / (\d+) samples`)
	errorLevel   = regexp.MustCompile(`^(?:Error:|ERROR\b|FATAL\b|CRITICAL\b)`)
	warningLevel = regexp.MustCompile(`^(?:Warning:|WARNING\b|WARN\b)`)
	crashFile    = regexp.MustCompile(`^Writing: (.+\.crash\.txt)`)
)

// noiseErrors are error lines that do not mean the render went wrong.
var noiseErrors = []string{
	// Blender's leak report at exit, common with add-ons.
	"Not freed memory blocks",
}

// parseLine classifies one line of Blender's output. prefixed says whether
// Blender 5's prefixed format has been seen (only then is a line that starts
// with blanks and a bar a continuation).
func parseLine(raw string, prefixed bool) blenderLine {
	l := blenderLine{text: raw}
	if loc := prefix5.FindStringIndex(raw); loc != nil {
		l.text = raw[loc[1]:]
	} else if prefixed {
		if loc := continuation5.FindStringIndex(raw); loc != nil {
			l.text = raw[loc[1]:]
			l.continuation = true
		}
	}
	msg := strings.TrimSpace(l.text)
	switch {
	case strings.HasPrefix(msg, "Saved: '") && strings.HasSuffix(msg, "'") && len(msg) > len("Saved: ''"):
		l.kind = lineSaved
		l.path = msg[len("Saved: '") : len(msg)-1]
	case strings.HasPrefix(msg, "Time: "):
		l.kind = lineTime
	case strings.HasPrefix(msg, `skipping existing frame "`) || strings.HasPrefix(msg, `Skipping existing frame "`):
		// Overwrite is off and the frame exists: done, nothing written.
		// Blender 5 writes it with a capital S.
		l.kind = lineSkipped
		l.path = strings.TrimSuffix(msg[len(`skipping existing frame "`):], `"`)
	case fraLine.MatchString(msg):
		l.kind = lineFra
		m := fraLine.FindStringSubmatch(msg)
		l.frame, _ = strconv.Atoi(m[1])
		if s := cyclesSample.FindStringSubmatch(msg); s != nil {
			l.sample, _ = strconv.Atoi(s[1])
			l.samples, _ = strconv.Atoi(s[2])
		} else if s := eeveeSample.FindStringSubmatch(msg); s != nil {
			l.sample, _ = strconv.Atoi(s[1])
			l.samples, _ = strconv.Atoi(s[2])
		}
		l.status = fraStatus(msg)
	case crashFile.MatchString(msg):
		l.kind = lineCrash
		l.path = crashFile.FindStringSubmatch(msg)[1]
	case errorLevel.MatchString(msg):
		l.kind = lineError
		for _, noise := range noiseErrors {
			if strings.Contains(msg, noise) {
				l.kind = lineOther
			}
		}
		if l.kind == lineError && mentionsMissingFile(msg) {
			l.kind = lineMissing
		}
	case mentionsMissingFile(msg):
		l.kind = lineMissing
	case warningLevel.MatchString(msg):
		lower := strings.ToLower(msg)
		if strings.Contains(lower, "not found") || strings.Contains(lower, "are missing") {
			l.kind = lineMissing
		}
	}
	return l
}

// mentionsMissingFile reports whether a message says that a file Blender
// needs (a linked library, an image, the blend file) could not be read.
func mentionsMissingFile(msg string) bool {
	lower := strings.ToLower(msg)
	for _, s := range []string{"unable to open", "cannot read file", "cannot find lib"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// fraStatus is what a Fra line says Blender is doing, without the counters
// that precede it: "Scene, ViewLayer | Updating Scene BVH | Building".
func fraStatus(msg string) string {
	parts := strings.Split(msg, " | ")
	var keep []string
	for i, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case i == 0: // "Fra:1 Mem:9.04M (Peak 10.83M)" or "Fra: 1"
		case strings.HasPrefix(p, "Mem:"), strings.HasPrefix(p, "Time:"), strings.HasPrefix(p, "Remaining:"):
		default:
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " | ")
}
