package caep_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log"
	"net/http"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/caep"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/sqlitestore"
)

// An app that pushes its revocations to a CAEP receiver and takes
// session-revoked events from a transmitter.
func Example() {
	st, err := sqlitestore.Open("sessions.db")
	if err != nil {
		log.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // load a kept key in a real app
	signer, err := caep.NewSigner(key, "2025-01")
	if err != nil {
		log.Fatal(err)
	}
	sender, err := caep.NewSender(st, caep.SenderConfig{
		Issuer: "https://app.example",
		Signer: signer,
		Receivers: []caep.PushReceiver{{Name: "partner", URL: "https://partner.example/ssf/events",
			Audience: "https://partner.example", Format: caep.FormatIssSub}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Every revocation of m records its events in the same write.
	m, err := revoke.New(st, sender.Option())
	if err != nil {
		log.Fatal(err)
	}
	go sender.Run(context.Background())

	receiver, err := caep.NewReceiver(m, caep.ReceiverConfig{
		Audience: "https://app.example",
		Transmitters: []caep.Transmitter{{Issuer: "https://idp.example",
			JWKSURL: "https://idp.example/.well-known/jwks.json"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := handlers.New(m, handlers.WithSecurityEvents(receiver))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux) // POST /auth/ssf/events among the other endpoints
	mux.Handle("GET /.well-known/jwks.json", signer.JWKSHandler())
	_ = http.ListenAndServe("127.0.0.1:8080", mux)
}
