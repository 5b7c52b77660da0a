package bytesize_test

import (
	"testing"

	"github.com/cajonfarm/cajon/sdk/bytesize"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "16GiB", want: 16 << 30},
		{in: " 1.5 GiB ", want: 3 << 29},
		{in: "500MB", want: 500e6},
		{in: "64 KiB", want: 64 << 10},
		{in: "2TB", want: 2e12},
		{in: "12B", want: 12},
		{in: "", bad: true},
		{in: "-1GiB", bad: true},
		{in: "16 GB RAM", bad: true},
		{in: "lots", bad: true},
		{in: "9999999999EiB", bad: true},
		{in: "1e30", bad: true},
	} {
		got, err := bytesize.Parse(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("Parse(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{1023, "1023 bytes"},
		{1024, "1.0 KiB"},
		{5 << 20, "5.0 MiB"},
		{3435973837, "3.2 GiB"},
		{12 << 40, "12.0 TiB"},
		{-2048, "-2.0 KiB"},
	} {
		if got := bytesize.Format(tt.n); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatReadsBack(t *testing.T) {
	for _, n := range []int64{0, 1 << 10, 16 << 30, 5 << 20} {
		got, err := bytesize.Parse(bytesize.Format(n))
		if err != nil || got != n {
			t.Errorf("Parse(Format(%d)) = %d, %v", n, got, err)
		}
	}
}
