package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/caep"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store"
)

// CAEP security events, in both directions (see package caep):
//
//   - As a transmitter (-caep-issuer, -caep-push-url, -caep-push-audience),
//     every revocation is recorded in the store's outbox in its own write
//     and pushed to the receiver as one signed session-revoked SET per
//     session; the signing key's JWKS is served at GET jwksPath.
//   - As a receiver (-caep-audience, -caep-transmitter,
//     -caep-transmitter-jwks), POST /auth/ssf/events takes the
//     transmitter's SETs. A sign-in may name the transmitter's session it
//     belongs to (transmitterSession in POST /login), standing in for the
//     federated sign-in through the transmitter that a real deployment
//     has: a session-revoked event for that session then ends this one.

// jwksPath is where the transmitter's signing keys are served.
const jwksPath = "/.well-known/jwks.json"

// caepFlags are the flags of the CAEP transmitter and receiver.
type caepFlags struct {
	issuer, keyFile, pushURL, pushAudience, pushFormat string
	audience, transmitter, transmitterJWKS             string
}

func (c *caepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.issuer, "caep-issuer", "", "send CAEP session-revoked events as this issuer `URL`: every revocation is pushed to -caep-push-url as signed SETs, and the signing key's JWKS is served at GET "+jwksPath)
	fs.StringVar(&c.keyFile, "caep-key", "", "PEM `file` of the SET signing key (ECDSA P-256 or RSA of 2048 bits or more, PKCS #8, SEC 1 or PKCS #1); default: a key generated at start-up")
	fs.StringVar(&c.pushURL, "caep-push-url", "", "with -caep-issuer, the receiver's RFC 8935 push endpoint `URL` (another demo's http://host:port/auth/ssf/events)")
	fs.StringVar(&c.pushAudience, "caep-push-audience", "", "with -caep-issuer, the aud of the SETs: the receiver's name (its -caep-audience)")
	fs.StringVar(&c.pushFormat, "caep-push-format", caep.FormatIssSub, "with -caep-issuer, how the user is named in the SETs: iss_sub (this issuer and the user id) or opaque (the user id)")
	fs.StringVar(&c.audience, "caep-audience", "", "receive CAEP events at POST /auth/ssf/events addressed to this `name` (the aud), from -caep-transmitter")
	fs.StringVar(&c.transmitter, "caep-transmitter", "", "with -caep-audience, the issuer `URL` of the transmitter whose SETs are accepted")
	fs.StringVar(&c.transmitterJWKS, "caep-transmitter-jwks", "", "with -caep-audience, the `URL` of the transmitter's JWKS (another demo's http://host:port"+jwksPath+")")
}

// check refuses a partial configuration, which would seem to work and
// send or accept nothing.
func (c caepFlags) check() error {
	switch {
	case c.issuer == "" && (c.keyFile != "" || c.pushURL != "" || c.pushAudience != ""):
		return errors.New("-caep-key, -caep-push-url and -caep-push-audience need -caep-issuer")
	case c.issuer != "" && (c.pushURL == "" || c.pushAudience == ""):
		return errors.New("-caep-issuer needs -caep-push-url and -caep-push-audience")
	case c.issuer != "" && c.pushFormat != caep.FormatIssSub && c.pushFormat != caep.FormatOpaque:
		return fmt.Errorf("-caep-push-format %q: give iss_sub or opaque", c.pushFormat)
	case (c.audience != "") != (c.transmitter != "") || (c.audience != "") != (c.transmitterJWKS != ""):
		return errors.New("-caep-audience, -caep-transmitter and -caep-transmitter-jwks go together; give all three")
	}
	for name, v := range map[string]string{"-caep-push-url": c.pushURL, "-caep-transmitter-jwks": c.transmitterJWKS} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q is not an http(s) URL", name, v)
		}
	}
	return nil
}

// caepSender is the demo's transmitter side, run by serve.
type caepSender struct {
	sender *caep.Sender
	signer *caep.Signer
	wg     sync.WaitGroup
}

// setUpCAEPSender returns the transmitter -caep-issuer asks for, or nil,
// with the option that makes the Manager record its events.
func (a *app) setUpCAEPSender(st store.SessionStore) (*caepSender, []revoke.Option, error) {
	c := a.cfg.caep
	if c.issuer == "" {
		return nil, nil, nil
	}
	key, err := signingKey(c.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("-caep-key: %w", err)
	}
	kid, err := keyID(key)
	if err != nil {
		return nil, nil, err
	}
	signer, err := caep.NewSigner(key, kid)
	if err != nil {
		return nil, nil, fmt.Errorf("-caep-key: %w", err)
	}
	sender, err := caep.NewSender(st, caep.SenderConfig{
		Issuer: c.issuer, Signer: signer, Logger: a.logger,
		Receivers: []caep.PushReceiver{{Name: "receiver", URL: c.pushURL, Audience: c.pushAudience, Format: c.pushFormat}},
	})
	if err != nil {
		return nil, nil, err
	}
	a.logger.Info("CAEP transmitter", "issuer", c.issuer, "push_url", c.pushURL, "audience", c.pushAudience,
		"format", c.pushFormat, "jwks", jwksPath, "kid", kid)
	return &caepSender{sender: sender, signer: signer}, []revoke.Option{sender.Option()}, nil
}

// routes serves the signing key's JWKS.
func (s *caepSender) routes(mux *http.ServeMux) {
	if s != nil {
		mux.Handle("GET "+jwksPath, s.signer.JWKSHandler())
	}
}

// start delivers the outbox until ctx ends; wait waits for that.
func (s *caepSender) start(ctx context.Context) {
	if s != nil {
		s.wg.Go(func() { _ = s.sender.Run(ctx) })
	}
}

func (s *caepSender) wait() {
	if s != nil {
		s.wg.Wait()
	}
}

// setUpCAEPReceiver returns the handler option that takes the
// transmitter's SETs at POST /auth/ssf/events, or none.
func (a *app) setUpCAEPReceiver() ([]handlers.Option, error) {
	c := a.cfg.caep
	if c.audience == "" {
		return nil, nil
	}
	rc, err := caep.NewReceiver(a.m, caep.ReceiverConfig{
		Audience:     c.audience,
		Transmitters: []caep.Transmitter{{Issuer: c.transmitter, JWKSURL: c.transmitterJWKS}},
		Logger:       a.logger,
	})
	if err != nil {
		return nil, err
	}
	a.logger.Info("CAEP receiver", "audience", c.audience, "transmitter", c.transmitter,
		"jwks", c.transmitterJWKS, "events", "/auth/ssf/events")
	return []handlers.Option{handlers.WithSecurityEvents(rc)}, nil
}

// transmitterSession is the sign-in option that links a session to the
// transmitter's session sid of the same user, or none: without
// -caep-transmitter there is no transmitter to link to.
func (a *app) transmitterSession(userID, sid string) ([]revoke.LoginOption, error) {
	switch {
	case sid == "":
		return nil, nil
	case a.cfg.caep.transmitter == "":
		return nil, errors.New("transmitterSession needs -caep-transmitter")
	case len(sid) > 128:
		return nil, errors.New("transmitterSession is too long")
	}
	return []revoke.LoginOption{revoke.FromProvider(a.cfg.caep.transmitter, userID, sid)}, nil
}

// signingKey reads the PEM key in file, or generates a P-256 key when file
// is empty.
func signingKey(file string) (crypto.Signer, error) {
	if file == "" {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("unsupported key %T", k)
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS #8, SEC 1 or PKCS #1 private key")
}

// keyID names key by its JWK thumbprint (RFC 7638), so that the same key
// has the same kid in every process, and a new one a new kid, which makes
// a receiver fetch the JWKS again.
func keyID(key crypto.Signer) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("-caep-key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
