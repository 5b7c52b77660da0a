package main

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// AssocQueryStringW arguments (shlwapi.h).
const (
	assocfNone         = 0
	assocstrExecutable = 2
	// errorNoAssociation is HRESULT_FROM_WIN32(ERROR_NO_ASSOCIATION).
	errorNoAssociation = 0x80070483
)

// associatedBlender returns the Blender that opens .blend files: the
// executable of the file type's open command, as Explorer resolves it
// (the user's choice, then the machine's), taking blender.exe beside the
// launcher when the launcher is associated.
func associatedBlender() (string, error) {
	exe, err := openCommandExecutable(".blend")
	if err != nil {
		return "", err
	}
	return programAt(blenderBeside(ospath.Windows, exe))
}

// openCommandExecutable asks the shell for the program of ext's "open" verb.
func openCommandExecutable(ext string) (string, error) {
	proc := windows.NewLazySystemDLL("shlwapi.dll").NewProc("AssocQueryStringW")
	if err := proc.Find(); err != nil {
		return "", fmt.Errorf("cannot ask Windows for file associations: %w", err)
	}
	assoc, err := windows.UTF16PtrFromString(ext)
	if err != nil {
		return "", err
	}
	verb, err := windows.UTF16PtrFromString("open")
	if err != nil {
		return "", err
	}
	buf := make([]uint16, windows.MAX_LONG_PATH)
	size := uint32(len(buf))
	hr, _, _ := proc.Call(assocfNone, assocstrExecutable,
		uintptr(unsafe.Pointer(assoc)), uintptr(unsafe.Pointer(verb)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)))
	switch {
	case hr == errorNoAssociation:
		return "", errors.New("no program is associated with " + ext + " files")
	case hr != 0:
		return "", fmt.Errorf("asking Windows which program opens %s files: HRESULT %#x", ext, uint32(hr))
	}
	exe := windows.UTF16ToString(buf)
	if exe == "" {
		return "", errors.New("the program associated with " + ext + " files has no path")
	}
	return exe, nil
}
