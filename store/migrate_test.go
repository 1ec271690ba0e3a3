package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/revokehq/revoke/store"
)

// TestMigrate checks the order of the steps, what an up-to-date or newer
// schema does, and that a failing step stops the migration.
func TestMigrate(t *testing.T) {
	var ran []int
	step := func(i int) error { ran = append(ran, i); return nil }
	migrated, err := store.Migrate(1, 4, step)
	if err != nil || !migrated || fmt.Sprint(ran) != "[1 2 3]" {
		t.Errorf("from 1 to 4: %v, %v after steps %v; want steps 1, 2, 3", migrated, err, ran)
	}

	ran = nil
	migrated, err = store.Migrate(4, 4, step)
	if err != nil || migrated || len(ran) != 0 {
		t.Errorf("up to date: %v, %v after steps %v; want nothing", migrated, err, ran)
	}
	migrated, err = store.Migrate(5, 4, step)
	if err == nil || !strings.Contains(err.Error(), "newer") || migrated || len(ran) != 0 {
		t.Errorf("newer: %v, %v after steps %v; want refused before any step", migrated, err, ran)
	}

	failure := errors.New("disk full")
	migrated, err = store.Migrate(0, 3, func(i int) error {
		ran = append(ran, i)
		if i == 1 {
			return failure
		}
		return nil
	})
	if !errors.Is(err, failure) || migrated || fmt.Sprint(ran) != "[0 1]" {
		t.Errorf("failing step: %v, %v after steps %v; want the failure after steps 0 and 1", migrated, err, ran)
	}
}
