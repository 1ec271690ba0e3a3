package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// Sign-in through an OpenID provider, beside the password users:
//
//	GET /auth/oidc/login     starts the authorization-code flow (with PKCE)
//	GET /auth/oidc/callback  finishes it and starts a session that knows its
//	                         provider sign-in (revoke.FromProvider)
//
// and the provider's back-channel logouts at POST
// /auth/oidc/backchannel-logout end those sessions.

// oidcFlags are the flags of the OpenID provider sign-in.
type oidcFlags struct {
	issuer, clientID, clientSecret string
}

func (o *oidcFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.issuer, "oidc-issuer", "", "sign in through the OpenID provider with this issuer `URL` too (with -oidc-client-id and -oidc-client-secret)")
	fs.StringVar(&o.clientID, "oidc-client-id", "", "the demo's client `id` at the OpenID provider")
	fs.StringVar(&o.clientSecret, "oidc-client-secret", "", "the demo's client `secret` at the OpenID provider")
}

// check refuses a partial configuration: without all three, sign-in
// through the provider cannot work, and it should not seem to.
func (o oidcFlags) check() error {
	set := 0
	for _, v := range []string{o.issuer, o.clientID, o.clientSecret} {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("-oidc-issuer, -oidc-client-id and -oidc-client-secret go together; give all three")
	}
	return nil
}

// oidcDiscoveryTimeout bounds reading the provider's configuration at
// start-up.
const oidcDiscoveryTimeout = 10 * time.Second

// oidcFlowCookie carries the state, nonce and PKCE verifier of one sign-in
// from /auth/oidc/login to the callback.
const oidcFlowCookie = "oidc_flow"

// oidcLogin is the demo's side of signing in through an OpenID provider.
type oidcLogin struct {
	a        *app
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// setUpOIDC discovers the provider named by -oidc-issuer and returns the
// handler options that accept its back-channel logout tokens, and the
// routes of the sign-in. Without -oidc-issuer it returns nothing.
func (a *app) setUpOIDC(listenAddr string) ([]handlers.Option, func(*http.ServeMux), error) {
	o := a.cfg.oidc
	if o.issuer == "" {
		return nil, func(*http.ServeMux) {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), oidcDiscoveryTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, o.issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("-oidc-issuer: %w", err)
	}
	bcl, err := handlers.DiscoverOIDCProvider(ctx, o.issuer, o.clientID)
	if err != nil {
		return nil, nil, fmt.Errorf("-oidc-issuer: %w", err)
	}
	// Ory Hydra v2 sends logout tokens without exp; they are bounded by
	// their iat instead.
	bcl.ExpiryFromIssuedAt = true

	l := &oidcLogin{
		a:        a,
		verifier: provider.Verifier(&oidc.Config{ClientID: o.clientID}),
		oauth: oauth2.Config{
			ClientID:     o.clientID,
			ClientSecret: o.clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  "http://" + listenAddr + "/auth/oidc/callback",
			Scopes:       []string{oidc.ScopeOpenID},
		},
	}
	if a.cfg.secureCookie {
		l.oauth.RedirectURL = "https://" + listenAddr + "/auth/oidc/callback"
	}
	routes := func(mux *http.ServeMux) {
		mux.HandleFunc("GET /auth/oidc/login", l.start)
		mux.HandleFunc("GET /auth/oidc/callback", l.callback)
	}
	a.logger.Info("OpenID provider sign-in", "issuer", o.issuer, "client_id", o.clientID,
		"login", "/auth/oidc/login", "redirect_uri", l.oauth.RedirectURL,
		"backchannel_logout_uri", strings.TrimSuffix(l.oauth.RedirectURL, "/callback")+"/backchannel-logout")
	return []handlers.Option{handlers.WithBackChannelLogout(bcl)}, routes, nil
}

// start sends the browser to the provider.
func (l *oidcLogin) start(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{
		Name: oidcFlowCookie, Value: state + "." + nonce + "." + verifier,
		Path: "/auth/oidc/", MaxAge: 600, HttpOnly: true, Secure: l.a.cfg.secureCookie, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, l.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback exchanges the code, verifies the ID token and signs the user in
// as the demo user the provider's subject names.
func (l *oidcLogin) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	http.SetCookie(w, &http.Cookie{Name: oidcFlowCookie, Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: l.a.cfg.secureCookie})
	var state, nonce, verifier string
	if c, err := r.Cookie(oidcFlowCookie); err == nil {
		if parts := strings.Split(c.Value, "."); len(parts) == 3 {
			state, nonce, verifier = parts[0], parts[1], parts[2]
		}
	}
	got := r.URL.Query().Get("state")
	if state == "" || subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
		writeError(w, http.StatusBadRequest, "bad_state", "the sign-in expired or was not started here; start again")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		writeError(w, http.StatusUnauthorized, "provider_refused", "the provider did not sign you in")
		return
	}
	xctx, cancel := context.WithTimeout(ctx, oidcDiscoveryTimeout)
	defer cancel()
	checked := l.a.m.Now() // before the exchange: see revoke.AuthenticatedAt
	tok, err := l.oauth.Exchange(xctx, r.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		l.a.logger.WarnContext(ctx, "oidc: code exchange failed", "err", err)
		writeError(w, http.StatusBadGateway, "exchange_failed", "the provider did not confirm the sign-in")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := l.verifier.Verify(xctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		l.a.logger.WarnContext(ctx, "oidc: ID token refused", "err", err)
		writeError(w, http.StatusBadGateway, "bad_id_token", "the provider's ID token was not valid")
		return
	}
	var claims struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&claims)
	u, ok := l.a.users.lookup(idt.Subject)
	if !ok {
		l.a.logger.InfoContext(ctx, "oidc: no demo user for the subject", "sub", idt.Subject)
		writeError(w, http.StatusForbidden, "unknown_user", "the provider signed in someone who has no account here")
		return
	}
	s, _, err := l.a.m.Login(w, r, u.ID, revoke.FromProvider(idt.Issuer, idt.Subject, claims.SID), revoke.AuthenticatedAt(checked))
	switch {
	case errors.Is(err, revoke.ErrNotBefore), errors.Is(err, revoke.ErrProviderSessionEnded):
		writeError(w, http.StatusConflict, "signed_out_meanwhile", "you were signed out while signing in; sign in again")
		return
	case err != nil:
		l.a.logger.ErrorContext(ctx, "oidc: creating the session failed", "user", u.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the session could not be created")
		return
	}
	l.a.logger.InfoContext(ctx, "signed in through the OpenID provider", "user", u.ID, "session", s.ID,
		"issuer", idt.Issuer, "sid", claims.SID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
