package store

import "fmt"

// Migrate takes a backend's schema from version v to latest, the number of
// migrations the backend knows: it calls step(i) for each i from v to
// latest-1, in order, where step(i) takes the schema from version i to
// version i+1. It refuses a schema newer than latest, which this code does
// not know, before any step, and reports whether it ran one: the backend
// then records latest and commits, all in the transaction that read v.
func Migrate(v, latest int, step func(i int) error) (migrated bool, err error) {
	if v > latest {
		return false, fmt.Errorf("migrate: schema version %d is newer than the %d this package knows", v, latest)
	}
	for i := v; i < latest; i++ {
		if err := step(i); err != nil {
			return false, fmt.Errorf("migrate to schema version %d: %w", i+1, err)
		}
	}
	return v < latest, nil
}
