package revoke_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/memstore"
)

// At most two sessions per user: a third sign-in is refused, or, with
// revoke.EvictLeastRecentlySeen, signs out the session seen least
// recently (reason "session_limit", heard by the OnRevoke hooks).
func ExampleWithMaxSessions() {
	ctx := context.Background()
	m, err := revoke.New(memstore.New(), revoke.WithMaxSessions(2, revoke.RefuseNewLogin))
	if err != nil {
		log.Fatal(err)
	}
	for _, device := range []string{"laptop", "phone", "tablet"} {
		_, _, err := m.Create(ctx, "alice", revoke.Device{UserAgent: device})
		if errors.Is(err, revoke.ErrSessionLimit) {
			fmt.Println(device + ": sign out on another device first")
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(device + ": signed in")
	}
	// Output:
	// laptop: signed in
	// phone: signed in
	// tablet: sign out on another device first
}
