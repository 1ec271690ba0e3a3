package revoke_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/revokehq/revoke"
)

// ExampleFromProvider records, at sign-in, which provider session the
// app's session comes from, so that the provider's logout ends it.
func ExampleFromProvider() {
	var (
		m       *revoke.Manager
		w       http.ResponseWriter
		r       *http.Request
		userID  string
		idToken *oidc.IDToken // verified by the app's OpenID client
		claims  struct {
			SID string `json:"sid"`
		}
		checked time.Time // taken before the code exchange
	)
	s, _, err := m.Login(w, r, userID,
		revoke.FromProvider(idToken.Issuer, idToken.Subject, claims.SID), // sid may be empty
		revoke.AuthenticatedAt(checked))                                  // taken before the code exchange
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println(s.ID)
}
