package idp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/pgstore"
)

const (
	adminToken = "e2e-admin-token-0123456789abcdef"
	// logoutMaxAge is short, so that the test can watch a token grow too
	// old without waiting minutes.
	logoutMaxAge = 3 * time.Second
)

var cookieKey = bytes.Repeat([]byte("c"), 32)

// delivery is a logout token that reached an app, and what the app
// answered (0 when it was held back, see app.hold).
type delivery struct {
	token  string
	status int
	at     time.Time
}

// app is one instance of the test app: an OpenID Connect relying party of
// Hydra built on revoke, which is also Hydra's login and consent provider.
type app struct {
	t        *testing.T
	url      string
	listener net.Listener
	hydra    *hydra
	m        *revoke.Manager
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier

	// nextSubject is whom the login provider signs in.
	nextSubject atomic.Value
	// hold makes the app keep the next logout token without acting on it,
	// answering 200, so that the test can present it later.
	hold      atomic.Bool
	mu        sync.Mutex
	logouts   []delivery
	delivered chan struct{} // a value per logout token received
}

// listenApp reserves the app's address, so that Hydra can be told it
// before the app is built.
func listenApp(t *testing.T) *app {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &app{t: t, listener: l, url: "http://" + l.Addr().String(), delivered: make(chan struct{}, 16)}
}

// serve builds the app on its own store connection to dsn and serves it
// until t ends.
func (a *app) serve(ctx context.Context, dsn string, h *hydra, client hydraClient) {
	t := a.t
	t.Helper()
	a.hydra = h
	st, err := pgstore.Open(ctx, dsn, pgstore.WithSchema("revoke"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cookie := revoke.DefaultCookie()
	cookie.Secure = false // plain HTTP on the loopback
	a.m, err = revoke.New(st, revoke.WithCookieKeys(cookieKey), revoke.WithCookie(cookie))
	if err != nil {
		t.Fatal(err)
	}

	provider, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	a.verifier = provider.Verifier(&oidc.Config{ClientID: client.ID})
	a.oauth = oauth2.Config{
		ClientID: client.ID, ClientSecret: client.Secret,
		Endpoint: provider.Endpoint(), RedirectURL: a.url + "/callback", Scopes: []string{oidc.ScopeOpenID},
	}
	bcl, err := handlers.DiscoverOIDCProvider(ctx, h.issuer, client.ID)
	if err != nil {
		t.Fatal(err)
	}
	bcl.ExpiryFromIssuedAt = true // Hydra v2 sends no exp
	bcl.MaxAge = logoutMaxAge
	hs, err := handlers.New(a.m, handlers.WithAdminTokens(adminToken), handlers.WithBackChannelLogout(bcl))
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	hs.Mount(mux)
	mux.HandleFunc("GET /start", a.start)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /consent", a.consent)
	mux.Handle("GET /me", a.m.Middleware(a.m.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, _ := revoke.FromContext(r.Context())
		_, _ = io.WriteString(w, cur.UserID)
	}))))
	srv := &http.Server{Handler: a.recordLogouts(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(a.listener) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// testPost marks the logout requests the test itself sends, which
// recordLogouts leaves out: it records what Hydra sends.
const testPost = "X-Sent-By-Test"

// recordLogouts notes every logout token that reaches the app, and the
// status the back-channel logout handler answered it with.
func (a *app) recordLogouts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/auth/oidc/backchannel-logout" || r.Header.Get(testPost) != "" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		form, _ := url.ParseQuery(string(body))
		d := delivery{token: form.Get("logout_token"), at: time.Now()}
		if a.hold.CompareAndSwap(true, false) {
			w.WriteHeader(http.StatusOK) // Hydra is told it arrived
		} else {
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			d.status = rec.status
		}
		a.mu.Lock()
		a.logouts = append(a.logouts, d)
		a.mu.Unlock()
		a.delivered <- struct{}{}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// waitLogout waits, a bounded time, for the next logout token to reach the
// app.
func (a *app) waitLogout(within time.Duration) (delivery, error) {
	select {
	case <-a.delivered:
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.logouts[len(a.logouts)-1], nil
	case <-time.After(within):
		return delivery{}, errTimeout
	}
}

// start begins the authorization-code flow.
func (a *app) start(w http.ResponseWriter, r *http.Request) {
	state, nonce := rand.Text(), rand.Text()
	http.SetCookie(w, &http.Cookie{Name: "flow", Value: state + "." + nonce, Path: "/", HttpOnly: true, MaxAge: 600})
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oidc.Nonce(nonce)), http.StatusFound)
}

// callback finishes the flow: the code is exchanged, the ID token verified,
// and the session started with the provider's issuer, subject and sid.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("flow")
	var state, nonce string
	if err == nil {
		state, nonce, _ = cut(c.Value)
	}
	if state == "" || r.URL.Query().Get("state") != state {
		http.Error(w, "bad state", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	checked := a.m.Now()
	tok, err := a.oauth.Exchange(ctx, r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != nonce {
		http.Error(w, fmt.Sprintf("id token: %v", err), http.StatusBadGateway)
		return
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil || claims.SID == "" {
		http.Error(w, "id token without sid", http.StatusBadGateway)
		return
	}
	_, _, err = a.m.Login(w, r, "u-"+idt.Subject,
		revoke.FromProvider(idt.Issuer, idt.Subject, claims.SID), revoke.AuthenticatedAt(checked))
	if err != nil {
		http.Error(w, "login: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sid": claims.SID, "sub": idt.Subject, "iss": idt.Issuer})
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// login is Hydra's login provider: it accepts the challenge for the
// subject the test chose, remembering the login so that Hydra keeps a
// login session (a sid) for it.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	challenge := url.QueryEscape(r.URL.Query().Get("login_challenge"))
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	if err := a.hydra.call(ctx, http.MethodGet, "/admin/oauth2/auth/requests/login?login_challenge="+challenge, nil, &req, http.StatusOK); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	accept := map[string]any{"subject": req.Subject}
	if !req.Skip {
		accept = map[string]any{"subject": a.nextSubject.Load().(string), "remember": true, "remember_for": 3600}
	}
	a.redirect(w, r, "/admin/oauth2/auth/requests/login/accept?login_challenge="+challenge, accept)
}

// consent is Hydra's consent provider: it grants what was asked.
func (a *app) consent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	challenge := url.QueryEscape(r.URL.Query().Get("consent_challenge"))
	var req struct {
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
	}
	if err := a.hydra.call(ctx, http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+challenge, nil, &req, http.StatusOK); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	a.redirect(w, r, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+challenge,
		map[string]any{"grant_scope": req.Scope, "grant_access_token_audience": req.Audience})
}

// redirect accepts a challenge and sends the browser where Hydra says.
func (a *app) redirect(w http.ResponseWriter, r *http.Request, path string, body any) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := a.hydra.call(r.Context(), http.MethodPut, path, body, &out, http.StatusOK); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// capture is the back-channel logout endpoint (and redirect URI) of a
// second client, which only records what Hydra sends it.
type capture struct {
	mu        sync.Mutex
	tokens    []string
	delivered chan struct{}
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			c.mu.Lock()
			c.tokens = append(c.tokens, r.PostForm.Get("logout_token"))
			c.mu.Unlock()
			c.delivered <- struct{}{}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (c *capture) wait(within time.Duration) (string, error) {
	select {
	case <-c.delivered:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.tokens[len(c.tokens)-1], nil
	case <-time.After(within):
		return "", errTimeout
	}
}
