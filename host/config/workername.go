package config

import (
	"fmt"
	"os"
)

// NameAtStart returns the name the worker registers and signs on with:
// worker_name (which Load takes from FLAMENCO_WORKER_NAME when no layer sets
// it), or the host name. The default is
// resolved when the worker starts, never when the config is loaded or
// printed, so a config copied into a machine image does not give every
// clone the same name.
func (m ManagerConfig) NameAtStart() (string, error) {
	return nameAtStart(m.WorkerName, os.Hostname)
}

// nameAtStart is NameAtStart with the host name lookup passed in, for tests.
func nameAtStart(set string, hostname func() (string, error)) (string, error) {
	if set != "" {
		return set, nil
	}
	host, err := hostname()
	if err == nil && host == "" {
		err = fmt.Errorf("the host name is empty")
	}
	if err != nil {
		return "", fmt.Errorf("manager.worker_name is unset and the host name is unknown (%w): set worker_name in [manager], CAJON_MANAGER_WORKER_NAME, FLAMENCO_WORKER_NAME or --name", err)
	}
	return host, nil
}
