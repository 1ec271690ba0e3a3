// Package option applies functional options, the one option style of every
// package of revoke: an option is a func(*T) error that refuses a value it
// cannot take, and a nil option is an error rather than a panic.
package option

import "fmt"

// Apply calls each option on t, in order, and stops at the first that
// fails, returning its error. A nil option is refused with an error that
// names its position and starts with pkg ("revoke", "sqlitestore: open").
func Apply[T any, O ~func(*T) error](pkg string, t *T, opts []O) error {
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("%s: option %d is nil", pkg, i)
		}
		if err := o(t); err != nil {
			return err
		}
	}
	return nil
}
