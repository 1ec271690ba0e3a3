package sqlitestore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/revokehq/revoke/store"
	"github.com/revokehq/revoke/store/sqlitestore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "sqlitestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := sqlitestore.Open(filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	now := time.Now()
	for _, id := range []string{"laptop", "phone"} {
		// Real tokens are random; the store only ever sees their hash.
		hash := sha256.Sum256([]byte("token of the " + id))
		err := s.Create(ctx, store.Session{
			ID:            id,
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
	}

	// Sign out everywhere but the laptop.
	ids, err := s.Revoke(ctx, store.Selection{UserID: "alice", ExceptID: "laptop"}, now, "signed out elsewhere")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked:", ids)

	// The phone's next request cannot bring its session back.
	err = s.Touch(ctx, "phone", now.Add(time.Minute), now.Add(25*time.Hour))
	fmt.Println("phone inactive:", errors.Is(err, store.ErrInactive))
	err = s.Touch(ctx, "laptop", now.Add(time.Minute), now.Add(25*time.Hour))
	fmt.Println("laptop touched:", err == nil)
	// Output:
	// revoked: [phone]
	// phone inactive: true
	// laptop touched: true
}
