package handlers_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke/handlers"
)

// Every route, and so every family-shaped answer, lies under one of
// Prefixes, which is what mounting Handler under them on another router
// relies on (examples/chi tests it on chi, a module of its own to keep chi
// out of this one's go.mod).
func TestPrefixesCoverEveryRoute(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	prefixes := e.h.Prefixes()
	is.True(len(prefixes) > 0)
	for _, rt := range handlers.Routes() {
		under := false
		for _, p := range prefixes {
			under = under || strings.HasPrefix(rt.Pattern, p)
		}
		if !under {
			t.Errorf("%s %s lies under none of %v", rt.Method, rt.Pattern, prefixes)
		}
	}
	for _, p := range prefixes {
		for _, q := range prefixes {
			is.True(p == q || !strings.HasPrefix(p, q)) // none lies under another
		}
	}
}
