// Command hydra-login is a login, consent and logout provider for a local
// Ory Hydra, so that the revoke demo (examples/server) can sign in through
// Hydra: Hydra keeps no users of its own and asks an app like this one to
// authenticate them. It signs in the demo's users (alice, bob, carol,
// admin) with the demo's password (REVOKE_DEMO_PASSWORD, default "demo"),
// grants every consent, and accepts every logout. Use it for local trials
// only.
//
//	go run ./examples/hydra-login -hydra-admin http://127.0.0.1:4445
//
// Point Hydra at it with URLS_LOGIN=http://127.0.0.1:3000/login,
// URLS_CONSENT=http://127.0.0.1:3000/consent and
// URLS_LOGOUT=http://127.0.0.1:3000/logout. See the README's "Identity
// providers" section for the whole walk-through.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// demoUsers are the accounts of examples/server.
var demoUsers = []string{"alice", "bob", "carol", "admin"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "hydra-login:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("hydra-login", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "address to listen on")
	admin := fs.String("hydra-admin", "http://127.0.0.1:4445", "`URL` of Hydra's admin API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	password := getenv("REVOKE_DEMO_PASSWORD")
	if password == "" {
		password = "demo"
	}
	p := &provider{
		admin:    *admin,
		client:   &http.Client{Timeout: 10 * time.Second},
		password: sha256.Sum256([]byte(password)),
		logger:   slog.New(slog.NewTextHandler(os.Stdout, nil)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.loginPage)
	mux.HandleFunc("POST /login", p.login)
	mux.HandleFunc("GET /consent", p.consent)
	mux.HandleFunc("GET /logout", p.logout)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	p.logger.Info("listening", "url", "http://"+*addr+"/", "hydra_admin", *admin)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type provider struct {
	admin    string
	client   *http.Client
	password [sha256.Size]byte
	logger   *slog.Logger
}

var page = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in at Hydra</title></head>
<body><h1>Sign in</h1>
<p>A demo user of the revoke demo: alice, bob, carol or admin.</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></body></html>`))

// loginPage asks for the user's credentials, unless Hydra already knows
// who it is (skip), in which case the login is accepted at once.
func (p *provider) loginPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	if err := p.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", "login_challenge", challenge, nil, &req); err != nil {
		p.fail(w, err)
		return
	}
	if req.Skip {
		p.accept(w, r, "/admin/oauth2/auth/requests/login/accept", "login_challenge", challenge, map[string]any{"subject": req.Subject})
		return
	}
	p.render(w, challenge, "")
}

func (p *provider) render(w http.ResponseWriter, challenge, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The form posts here; the answer redirects to Hydra, which
	// form-action must allow too.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self' http: https:; frame-ancestors 'none'")
	if msg != "" {
		w.WriteHeader(http.StatusUnauthorized)
	}
	_ = page.Execute(w, struct{ Challenge, Error string }{challenge, msg})
}

// login checks the credentials and tells Hydra who signed in, remembering
// the login so that Hydra keeps a login session (a sid) for it.
func (p *provider) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	challenge, username := r.PostForm.Get("login_challenge"), r.PostForm.Get("username")
	got := sha256.Sum256([]byte(r.PostForm.Get("password")))
	if subtle.ConstantTimeCompare(got[:], p.password[:]) != 1 || !slices.Contains(demoUsers, username) {
		p.render(w, challenge, "Wrong username or password.")
		return
	}
	p.accept(w, r, "/admin/oauth2/auth/requests/login/accept", "login_challenge", challenge,
		map[string]any{"subject": username, "remember": true, "remember_for": 3600})
}

// consent grants what the client asked for.
func (p *provider) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
	}
	if err := p.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", "consent_challenge", challenge, nil, &req); err != nil {
		p.fail(w, err)
		return
	}
	p.accept(w, r, "/admin/oauth2/auth/requests/consent/accept", "consent_challenge", challenge,
		map[string]any{"grant_scope": req.Scope, "grant_access_token_audience": req.Audience})
}

// logout accepts a sign-out at Hydra, which then sends every client of the
// login session its back-channel logout token.
func (p *provider) logout(w http.ResponseWriter, r *http.Request) {
	p.accept(w, r, "/admin/oauth2/auth/requests/logout/accept", "logout_challenge", r.URL.Query().Get("logout_challenge"), nil)
}

// accept accepts a challenge at Hydra and sends the browser where Hydra
// says.
func (p *provider) accept(w http.ResponseWriter, r *http.Request, path, param, challenge string, body any) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := p.call(r.Context(), http.MethodPut, path, param, challenge, body, &out); err != nil {
		p.fail(w, err)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}

// call sends one request to Hydra's admin API.
func (p *provider) call(ctx context.Context, method, path, param, challenge string, in, out any) error {
	if challenge == "" {
		return errors.New("no " + param)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.admin+path+"?"+url.Values{param: {challenge}}.Encode(), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("hydra %s %s: %d %s", method, path, res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func (p *provider) fail(w http.ResponseWriter, err error) {
	p.logger.Error("hydra admin API", "err", err)
	http.Error(w, "Hydra did not accept the request; see the log.", http.StatusBadGateway)
}
