package main

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if hostBinaries.dir != "" {
		os.RemoveAll(hostBinaries.dir)
	}
	os.Exit(code)
}
