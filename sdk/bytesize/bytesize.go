// Package bytesize reads and writes amounts of memory and disk as people
// write them in configuration files and read them in logs: "16GiB",
// "500 MB", "3.2 GiB". The host and the shipped plugins use it, so a size
// reads the same in every message and setting of a farm.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// units are the suffixes Parse takes, longest first for each prefix so that
// "MiB" is not read as "B".
var units = []struct {
	suffix string
	bytes  float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"bytes", 1}, {"B", 1},
}

// Parse reads a size: a number of bytes ("1048576") or a number with a unit
// ("16GiB", "1.5 GiB", "500MB", "64 KiB"). Binary units (KiB, MiB, GiB, TiB)
// are powers of 1024, decimal ones (KB, MB, GB, TB) powers of 1000. A
// negative size, an unknown unit or a size beyond int64 is an error that
// shows how to write one.
func Parse(s string) (int64, error) {
	text := strings.TrimSpace(s)
	scale := 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			text, scale = strings.TrimSpace(n), u.bytes
			break
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f < 0 || f*scale >= 1<<63 {
		return 0, fmt.Errorf("size %q: write it like \"16GiB\", \"500MB\" or a number of bytes", s)
	}
	return int64(f * scale), nil
}

// Format writes n bytes for a person: "512 bytes", "12.0 KiB", "3.2 GiB".
// Binary units, one decimal, so that two sizes in one message compare at a
// glance.
func Format(n int64) string {
	if n < 1<<10 && n > -1<<10 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	v, unit := float64(n), 0
	for unit < len(binary)-1 && (v >= 1<<10 || v <= -1<<10) {
		v /= 1 << 10
		unit++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + binary[unit]
}

var binary = [...]string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
