package pgstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/pgstore"
)

// Every instance of an app opens a Store on the same database. The first to
// start creates the table; a revocation made through any of them holds on
// all of them at once.
func Example() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"),
		pgstore.WithSchema("auth"),
		pgstore.WithRetention(90*24*time.Hour), // keep revoked sessions three months for audits
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	now := time.Now()
	token := rand.Text() // goes to the client; only its hash is stored
	hash := sha256.Sum256([]byte(token))
	err = s.Create(ctx, store.Session{
		ID:            rand.Text(),
		UserID:        "alice",
		TokenHash:     hash,
		CreatedAt:     now,
		LastSeenAt:    now,
		ExpiresAt:     now.Add(30 * 24 * time.Hour),
		IdleExpiresAt: now.Add(24 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}

	// "Sign out everywhere": one statement, whatever instance runs it.
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice"}, time.Now(), "password changed")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked", len(ids), "sessions")

	sess, err := s.GetByTokenHash(ctx, hash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", sess.Active(time.Now()))
}

// An app that already has a pgxpool.Pool passes it to New; the Store then
// leaves the pool open when it closes.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // the app's own pool
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	s, err := pgstore.New(ctx, pool, pgstore.WithTable("user_sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close() // before pool.Close, as defers run last-in first-out
}
