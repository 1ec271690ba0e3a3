package cachestore_test

import (
	"context"
	"encoding/hex"
	"log"
	"os"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/store/cachestore"
	"github.com/revokehq/revoke/store/pgstore"
)

// A cache in front of PostgreSQL, in every instance of the app. Lookups are
// answered from memory; a revocation returns once every instance has
// evicted the session or lost its lease.
func Example() {
	ctx := context.Background()
	shared, err := pgstore.Open(ctx, "postgres://app@127.0.0.1:5432/app?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	st, err := cachestore.New(shared) // closes shared when it is closed
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// Every instance signs cookies with the same key.
	key, err := hex.DecodeString(os.Getenv("REVOKE_COOKIE_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := revoke.New(st, revoke.WithCookieKeys(key))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	_ = m // m.Middleware(...), handlers.New(m, ...)
}
