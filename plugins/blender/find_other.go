//go:build !windows

package main

import "errors"

// associatedBlender is Windows only: other systems have no .blend
// association the worker can ask.
func associatedBlender() (string, error) {
	return "", errors.New("file associations are read on Windows only")
}
