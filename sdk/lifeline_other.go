//go:build !unix

package sdk

// closeOnExec does nothing where the lifeline is not a descriptor the host
// passes (Windows: exec.Cmd's ExtraFiles are not supported there).
func closeOnExec(int) {}
