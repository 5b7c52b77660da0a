package ospath

import (
	"path/filepath"
	"testing"
)

// TestNativeIsFilepath checks that on Windows the Windows syntax answers
// as path/filepath does, for every path the Linux tests use: what is
// tested on Linux is what runs on Windows.
func TestNativeIsFilepath(t *testing.T) {
	if Native != Windows {
		t.Fatal("Native is not Windows on Windows")
	}
	for _, p := range windowsPaths {
		pairs := []struct{ what, ours, theirs string }{
			{"VolumeName", Windows.VolumeName(p), filepath.VolumeName(p)},
			{"Clean", Windows.Clean(p), filepath.Clean(p)},
			{"Dir", Windows.Dir(p), filepath.Dir(p)},
			{"Base", Windows.Base(p), filepath.Base(p)},
			{"Ext", Windows.Ext(p), filepath.Ext(p)},
		}
		d, f := filepath.Split(p)
		od, of := Windows.Split(p)
		pairs = append(pairs, struct{ what, ours, theirs string }{"Split", od + "|" + of, d + "|" + f})
		for _, c := range pairs {
			if c.ours != c.theirs {
				t.Errorf("%s(%s) = %s, filepath says %s", c.what, p, c.ours, c.theirs)
			}
		}
		if Windows.IsAbs(p) != filepath.IsAbs(p) {
			t.Errorf("IsAbs(%s) = %v, filepath says %v", p, Windows.IsAbs(p), filepath.IsAbs(p))
		}
	}
	for _, j := range windowsJoins {
		if ours, theirs := Windows.Join(j.elem...), filepath.Join(j.elem...); ours != theirs {
			t.Errorf("Join(%q) = %s, filepath says %s", j.elem, ours, theirs)
		}
	}
}
