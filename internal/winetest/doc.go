// Package winetest is the Windows lane's suite: it runs the Windows build of
// Cajon (cajon.exe and its plugins) under wine on Linux and checks what wine
// does as Windows does: plugins start and keep the protocol, a local job runs
// on drive-letter paths, a cancelled command's tree and a killed host leave no
// process. `make test-windows` runs it; plain `go test` skips it (see
// internal/wine). docs/PLATFORMS.md lists what it checks and what it cannot.
package winetest
