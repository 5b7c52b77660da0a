package jobfile

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkParseDeepKey parses a parameter whose dotted key has 100,000
// parts (a 200 KB file): refused for its depth, in linear time.
func BenchmarkParseDeepKey(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("name = \"deep\"\n[[tasks]]\nname = \"t\"\n[[tasks.commands]]\nname = \"echo\"\n[tasks.commands.parameters]\nmessage")
	for range 100_000 {
		buf.WriteString(".a")
	}
	buf.WriteString(" = 1\n")
	data := buf.Bytes()
	for i := 0; i < b.N; i++ {
		if _, err := ParseJob(context.Background(), "deep.toml", data); err == nil {
			b.Fatal("a parameter nested 100,000 levels deep was accepted")
		}
	}
}
