package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the Settings that a backend does not choose otherwise.
const (
	// DefaultCleanupInterval is how often a backend on a database deletes
	// old sessions in the background.
	DefaultCleanupInterval = 5 * time.Minute
	// DefaultRetention is how long old sessions are kept, as an audit
	// trail, before the background cleanup deletes them.
	DefaultRetention = 30 * 24 * time.Hour
)

// Settings are the settings every backend has. Each backend sets them with
// options of the same names: WithCleanupInterval, WithRetention, WithLogger
// and, for a backend on a database, WithCallTimeout; those options refuse,
// through the Setting functions below, the values no backend takes.
type Settings struct {
	// CleanupInterval is how often the background cleanup runs (see
	// StartCleanup); zero turns it off, leaving DeleteBefore to the app.
	CleanupInterval time.Duration
	// Retention is how long old sessions (see Session.Old) are kept: each
	// cleanup deletes those that are old at its time minus Retention.
	Retention time.Duration
	// CallTimeout bounds each call to the database (see CallContext);
	// zero means no bound.
	CallTimeout time.Duration
	// Logger receives the background cleanup's messages.
	Logger *slog.Logger
}

// DefaultSettings returns the settings of a backend on a database before
// its options apply.
func DefaultSettings() Settings {
	return Settings{
		CleanupInterval: DefaultCleanupInterval,
		Retention:       DefaultRetention,
		CallTimeout:     DefaultCallTimeout,
		Logger:          slog.Default(),
	}
}

// A Setting changes Settings, or refuses with an error a value that no
// backend takes. A backend's options of the same name wrap them.
type Setting func(*Settings) error

// CleanupInterval sets Settings.CleanupInterval: zero turns the background
// cleanup off, and a negative interval is refused.
func CleanupInterval(d time.Duration) Setting {
	return duration("cleanup interval (0 turns the cleanup off)", d, func(s *Settings) *time.Duration { return &s.CleanupInterval })
}

// Retention sets Settings.Retention: zero deletes sessions as soon as they
// are old, and a negative retention is refused.
func Retention(d time.Duration) Setting {
	return duration("retention", d, func(s *Settings) *time.Duration { return &s.Retention })
}

// CallTimeout sets Settings.CallTimeout: zero means no bound, and a
// negative timeout is refused.
func CallTimeout(d time.Duration) Setting {
	return duration("call timeout (0 means no bound)", d, func(s *Settings) *time.Duration { return &s.CallTimeout })
}

// duration returns the Setting that sets the field of Settings that field
// points to to d, and refuses a negative d.
func duration(name string, d time.Duration, field func(*Settings) *time.Duration) Setting {
	return func(s *Settings) error {
		if d < 0 {
			return fmt.Errorf("store: %s must not be negative, got %v", name, d)
		}
		*field(s) = d
		return nil
	}
}

// Logger sets Settings.Logger. A nil logger is refused; to discard the
// messages, pass slog.New(slog.DiscardHandler).
func Logger(l *slog.Logger) Setting {
	return func(s *Settings) error {
		if l == nil {
			return errors.New("store: nil logger (slog.New(slog.DiscardHandler) discards the messages)")
		}
		s.Logger = l
		return nil
	}
}
