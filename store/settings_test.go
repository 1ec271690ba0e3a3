package store_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/revokehq/revoke/store"
)

// TestSettings checks the values the shared settings take and refuse: zero
// is a meaning (off, no bound, at once), a negative duration and a nil
// logger are errors that leave the settings as they were.
func TestSettings(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for name, tc := range map[string]struct {
		set  store.Setting
		ok   bool
		want func(store.Settings) bool
	}{
		"interval":           {store.CleanupInterval(time.Minute), true, func(s store.Settings) bool { return s.CleanupInterval == time.Minute }},
		"interval off":       {store.CleanupInterval(0), true, func(s store.Settings) bool { return s.CleanupInterval == 0 }},
		"negative interval":  {store.CleanupInterval(-time.Second), false, nil},
		"retention":          {store.Retention(time.Hour), true, func(s store.Settings) bool { return s.Retention == time.Hour }},
		"retention zero":     {store.Retention(0), true, func(s store.Settings) bool { return s.Retention == 0 }},
		"negative retention": {store.Retention(-1), false, nil},
		"call timeout":       {store.CallTimeout(time.Second), true, func(s store.Settings) bool { return s.CallTimeout == time.Second }},
		"no call timeout":    {store.CallTimeout(0), true, func(s store.Settings) bool { return s.CallTimeout == 0 }},
		"negative timeout":   {store.CallTimeout(-time.Millisecond), false, nil},
		"logger":             {store.Logger(logger), true, func(s store.Settings) bool { return s.Logger == logger }},
		"nil logger":         {store.Logger(nil), false, nil},
	} {
		s := store.DefaultSettings()
		err := tc.set(&s)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.ok && !tc.want(s):
			t.Errorf("%s: settings are %+v", name, s)
		case !tc.ok && err == nil:
			t.Errorf("%s: no error", name)
		case !tc.ok && s != store.DefaultSettings():
			t.Errorf("%s: refused, but the settings changed to %+v", name, s)
		}
	}
}
