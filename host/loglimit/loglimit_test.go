package loglimit

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLimiter(t *testing.T) {
	ten := "123456789" // 10 bytes with its newline
	tests := []struct {
		name          string
		maxBytes      int64
		batches       [][]string
		wantLive      []string
		wantTail      []string // what Close returns
		wantTruncated bool
	}{
		{
			name:     "unlimited",
			maxBytes: 0,
			batches:  [][]string{{ten, ten, ten}, {strings.Repeat("x", 1<<20)}},
			wantLive: []string{ten, ten, ten, strings.Repeat("x", 1<<20)},
		},
		{
			name:     "head exactly full",
			maxBytes: 100, // head 20, tail 80
			batches:  [][]string{{ten}, {ten}},
			wantLive: []string{ten, ten},
		},
		{
			name:          "one byte over the head goes to the tail, nothing left out",
			maxBytes:      100,
			batches:       [][]string{{ten, ten + "0"}},
			wantLive:      []string{ten},
			wantTail:      []string{ten + "0"},
			wantTruncated: true,
		},
		{
			name:          "once the head is full, a line that would fit still waits in the tail",
			maxBytes:      100,
			batches:       [][]string{{ten, "12345678901"}, {""}},
			wantLive:      []string{ten},
			wantTail:      []string{"12345678901", ""},
			wantTruncated: true,
		},
		{
			name:          "head and tail exactly full",
			maxBytes:      100,
			batches:       [][]string{{ten, ten, ten, ten, ten, ten}, {ten, ten, ten, ten}},
			wantLive:      []string{ten, ten},
			wantTail:      []string{ten, ten, ten, ten, ten, ten, ten, ten},
			wantTruncated: true,
		},
		{
			name:          "tail one byte over drops its oldest line",
			maxBytes:      100,
			batches:       [][]string{{ten, ten, "a", ten, ten, ten, ten, ten, ten, ten}, {"12345678"}},
			wantLive:      []string{ten, ten},
			wantTail:      []string{"[cajon: 2 bytes in 1 line left out of this log]", ten, ten, ten, ten, ten, ten, ten, "12345678"},
			wantTruncated: true,
		},
		{
			name:          "many small lines",
			maxBytes:      100,
			batches:       [][]string{slices.Repeat([]string{"x"}, 1000)},
			wantLive:      slices.Repeat([]string{"x"}, 10),
			wantTail:      append([]string{"[cajon: 1900 bytes in 950 lines left out of this log]"}, slices.Repeat([]string{"x"}, 40)...),
			wantTruncated: true,
		},
		{
			name:          "one giant line keeps its end",
			maxBytes:      10, // head 2, tail 8
			batches:       [][]string{{"0123456789abcdef"}},
			wantTail:      []string{"[cajon: 9 bytes in 1 line left out of this log]", "9abcdef"},
			wantTruncated: true,
		},
		{
			name:     "giant line of two-byte runes is cut at a rune boundary",
			maxBytes: 10, // tail 8: 7 bytes of text, and 7 is odd
			batches:  [][]string{{"ééééééé"}},
			// 14 bytes; the last 7 start inside a rune, so 6 bytes are kept.
			wantTail:      []string{"[cajon: 8 bytes in 1 line left out of this log]", "ééé"},
			wantTruncated: true,
		},
		{
			name:          "giant line of four-byte runes",
			maxBytes:      10,
			batches:       [][]string{{"ab🎬🎬🎬"}},
			wantTail:      []string{"[cajon: 10 bytes in 1 line left out of this log]", "🎬"},
			wantTruncated: true,
		},
		{
			name:          "a giant line pushes out everything held before it",
			maxBytes:      100,
			batches:       [][]string{{ten, ten, "held", "held"}, {strings.Repeat("z", 200)}},
			wantLive:      []string{ten, ten},
			wantTail:      []string{"[cajon: 131 bytes in 3 lines left out of this log]", strings.Repeat("z", 79)},
			wantTruncated: true,
		},
		{
			name:          "the cut line counts once when it is later dropped",
			maxBytes:      100,
			batches:       [][]string{{ten, ten, strings.Repeat("z", 200), strings.Repeat("y", 40)}},
			wantLive:      []string{ten, ten},
			wantTail:      []string{"[cajon: 201 bytes in 1 line left out of this log]", strings.Repeat("y", 40)},
			wantTruncated: true,
		},
		{
			name:          "a budget too small for any text",
			maxBytes:      1, // head 0, tail 1: room for empty lines only
			batches:       [][]string{{"a", "b", ""}},
			wantTail:      []string{"[cajon: 4 bytes in 2 lines left out of this log]", ""},
			wantTruncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.maxBytes)
			var live []string
			for _, b := range tt.batches {
				live = append(live, l.Add(b)...)
			}
			if !slices.Equal(live, tt.wantLive) {
				t.Errorf("live = %q, want %q", abbreviate(live), abbreviate(tt.wantLive))
			}
			if got := l.Truncated(); got != tt.wantTruncated {
				t.Errorf("Truncated() = %v, want %v", got, tt.wantTruncated)
			}
			last := tt.batches[len(tt.batches)-1]
			if got := l.Last(); got != last[len(last)-1] {
				t.Errorf("Last() = %q, want %q", abbreviate([]string{got}), abbreviate(last[len(last)-1:]))
			}
			tail := l.Close("")
			if !slices.Equal(tail, tt.wantTail) {
				t.Errorf("Close() = %q, want %q", abbreviate(tail), abbreviate(tt.wantTail))
			}
			if again := l.Close(""); again != nil {
				t.Errorf("second Close() = %q, want nil", again)
			}
		})
	}
}

func TestMarkerNamesTheFullLog(t *testing.T) {
	l := New(10)
	l.Add([]string{"0123456789", "tail"})
	got := l.Close("/var/lib/cajon/logs/task-1.log")
	want := []string{"[cajon: 11 bytes in 1 line left out of this log; the full log is on the worker at /var/lib/cajon/logs/task-1.log]", "tail"}
	if !slices.Equal(got, want) {
		t.Errorf("Close() = %q, want %q", got, want)
	}
}

func TestAddAfterCloseSendsNothing(t *testing.T) {
	l := New(100)
	l.Add([]string{"a"})
	l.Close("")
	if live := l.Add([]string{"late"}); live != nil {
		t.Errorf("Add after Close = %q, want nil", live)
	}
	if b, n := l.LeftOut(); b != 5 || n != 1 {
		t.Errorf("LeftOut() = %d, %d, want 5, 1", b, n)
	}
}

// TestLimiterInvariants feeds random logs, multibyte text and giant lines
// included, through many budgets and checks what every caller relies on.
func TestLimiterInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "é", "€", "🎬", " ", "frame 0042 rendered"}
	for round := range 300 {
		maxBytes := int64(rng.IntN(400))
		if round%10 == 0 {
			maxBytes = int64(rng.IntN(1 << 16))
		}
		var input []string
		for range rng.IntN(500) {
			var b strings.Builder
			n := rng.IntN(12)
			if rng.IntN(50) == 0 {
				n = rng.IntN(2000) // now and then a line bigger than any small budget
			}
			for range n {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			input = append(input, b.String())
		}

		l := New(maxBytes)
		var live []string
		for rest := input; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40))
			live = append(live, l.Add(rest[:n])...)
			rest = rest[n:]
		}
		tail := l.Close("")

		leftBytes, leftLines := l.LeftOut()
		var marker string
		if leftBytes > 0 {
			if len(tail) == 0 || !strings.HasPrefix(tail[0], "[cajon: ") {
				t.Fatalf("round %d: bytes were left out but Close gave no marker first: %q", round, abbreviate(tail))
			}
			marker, tail = tail[0], tail[1:]
			if want := Marker(leftBytes, leftLines, ""); marker != want {
				t.Fatalf("round %d: marker %q, want %q", round, marker, want)
			}
		}

		// Live lines are the log's first lines, unchanged.
		if !slices.Equal(live, input[:len(live)]) {
			t.Fatalf("round %d: live lines are not the start of the log", round)
		}
		// Tail lines are the log's last lines; the first may be the end of a cut line.
		if len(tail) > 0 {
			rest := input[len(input)-len(tail):]
			if !slices.Equal(tail[1:], rest[1:]) || !strings.HasSuffix(rest[0], tail[0]) {
				t.Fatalf("round %d: tail lines are not the end of the log", round)
			}
		}
		sent := size(live) + size(tail)
		if maxBytes > 0 && sent > maxBytes {
			t.Fatalf("round %d: sent %d bytes plus the marker, budget %d", round, sent, maxBytes)
		}
		if sent+leftBytes != size(input) {
			t.Fatalf("round %d: sent %d + left out %d != log size %d", round, sent, leftBytes, size(input))
		}
		if leftBytes == 0 && len(live)+len(tail) != len(input) {
			t.Fatalf("round %d: nothing left out but %d of %d lines sent", round, len(live)+len(tail), len(input))
		}
		for _, s := range append(live, tail...) {
			if !utf8.ValidString(s) {
				t.Fatalf("round %d: sent a line cut inside a rune: %q", round, s)
			}
		}
		if maxBytes == 0 && (l.Truncated() || len(tail) != 0 || marker != "") {
			t.Fatalf("round %d: unlimited limiter held lines back", round)
		}
	}
}

func size(lines []string) int64 {
	var n int64
	for _, s := range lines {
		n += lineSize(s)
	}
	return n
}

// abbreviate keeps failure messages readable when lines are huge.
func abbreviate(lines []string) []string {
	out := make([]string, len(lines))
	for i, s := range lines {
		if len(s) > 100 {
			s = s[:40] + "..." + s[len(s)-40:]
		}
		out[i] = s
	}
	return out
}

// TestLargeTail crosses the ring's jump from doubling to its full budget and
// checks the kept tail against the lines it must hold.
func TestLargeTail(t *testing.T) {
	const maxBytes = 4 << 20 // head 838,860 bytes, tail 3,355,444
	l := New(maxBytes)
	var all []string
	for i := range 60_000 { // 100 bytes a line with the newline: 6 MB
		all = append(all, fmt.Sprintf("%099d", i))
	}
	var live int
	for i := 0; i < len(all); i += 1000 {
		live += len(l.Add(all[i : i+1000]))
	}
	tailBudget := maxBytes - maxBytes*headPercent/100
	kept := tailBudget / 100 // whole lines that fit
	want := strings.Join(all[len(all)-kept:], "\n")
	text, ok := l.CloseText("")
	if !ok {
		t.Fatal("nothing held back")
	}
	marker, tail, _ := strings.Cut(text, "\n")
	if tail != want {
		t.Errorf("tail of %d bytes, want the last %d lines (%d bytes)", len(tail), kept, len(want))
	}
	left := len(all) - live - kept
	if wantMarker := Marker(int64(left*100), int64(left), ""); marker != wantMarker {
		t.Errorf("marker %q, want %q", marker, wantMarker)
	}
}
