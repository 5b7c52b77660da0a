// Package realmanager tests Cajon against a real, unmodified Flamenco Manager.
//
// The tests start `flamenco-manager` (from PATH, or the file named by
// FLAMENCO_MANAGER) in a temporary folder on a loopback port, submit the
// Manager's own stock jobs through its REST API, and run `bin/cajon run` as a
// separate process against it. Without a Manager binary they skip, naming how
// to build one (shared/tools/build-flamenco.sh). The Manager is a GPL test
// tool run as a separate program; nothing of it is part of Cajon.
//
// The recorded exchanges in internal/flamencotrace are what CI always runs;
// these tests are what judges compatibility wherever a Manager is installed.
package realmanager
