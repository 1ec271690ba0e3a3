package option_test

import (
	"errors"
	"testing"

	"github.com/revokehq/revoke/internal/option"
)

type config struct{ applied []int }

type opt func(*config) error

func add(n int) opt {
	return func(c *config) error {
		if n < 0 {
			return errors.New("negative")
		}
		c.applied = append(c.applied, n)
		return nil
	}
}

func TestApply(t *testing.T) {
	var c config
	if err := option.Apply("pkg", &c, []opt{add(1), add(2)}); err != nil {
		t.Fatal(err)
	}
	if len(c.applied) != 2 || c.applied[0] != 1 || c.applied[1] != 2 {
		t.Fatalf("applied %v, want [1 2] in order", c.applied)
	}

	c = config{}
	err := option.Apply("pkg", &c, []opt{add(1), nil, add(3)})
	if err == nil || err.Error() != "pkg: option 1 is nil" {
		t.Fatalf("nil option: %v, want pkg: option 1 is nil", err)
	}
	if len(c.applied) != 1 {
		t.Fatalf("applied %v after a nil option, want only the one before it", c.applied)
	}

	c = config{}
	if err := option.Apply("pkg", &c, []opt{add(-1), add(2)}); err == nil || err.Error() != "negative" {
		t.Fatalf("failing option: %v, want its own error", err)
	}
	if len(c.applied) != 0 {
		t.Fatalf("applied %v after a failing option, want none", c.applied)
	}
	if err := option.Apply[config, opt]("pkg", &c, nil); err != nil {
		t.Fatalf("no options: %v", err)
	}
}
