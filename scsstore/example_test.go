package scsstore_test

import (
	"context"
	"fmt"

	"github.com/alexedwards/scs/v2"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/scsstore"
	"github.com/revokehq/revoke/store/memstore"
)

// An scs app keeps its code and swaps its store; revoke then finds and
// revokes a user's scs sessions.
func ExampleNew() {
	st := memstore.New()
	defer st.Close()
	sm := scs.New()
	scsStore, err := scsstore.New(st, scsstore.WithUserKey("userID"))
	if err != nil {
		panic(err)
	}
	sm.Store = scsStore
	m, err := revoke.New(st, scsstore.ManagerOptions(sm)...)
	if err != nil {
		panic(err)
	}

	// What LoadAndSave does around a login request.
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		panic(err)
	}
	sm.Put(ctx, "userID", "alice")
	token, _, err := sm.Commit(ctx)
	if err != nil {
		panic(err)
	}

	cause := revoke.Cause{Actor: revoke.AdminActor("ops"), Reason: "password reset"}
	n, err := m.RevokeAll(context.Background(), "alice", cause)
	if err != nil {
		panic(err)
	}
	ctx, err = sm.Load(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Printf("revoked %d; user after revocation: %q\n", n, sm.GetString(ctx, "userID"))
	// Output: revoked 1; user after revocation: ""
}
