// Command jsserver serves the handlers over a memstore on 127.0.0.1 for the
// JavaScript client tests (interop-js/), with fixture routes under
// /_fixture/ that let a test create sessions, see whether one is still
// active, and read what the server was sent. It prints one JSON line, the
// server's URL and admin token, and exits when its standard input closes
// (its parent is gone) or after -lifetime, whichever comes first.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

// adminToken is the static API token the server accepts as an
// administrator.
const adminToken = "interop-js-admin-token-0123456789"

// users are the users the app's user lookup knows.
var users = map[string]bool{"00u1alice": true, "00u2bob": true, "ory-user": true, "a.b+c@example.com": true}

func main() {
	oktaLimit := flag.Int("okta-limit", 0, "Okta-family requests a second per caller (0: the default limit)")
	lifetime := flag.Duration("lifetime", 2*time.Minute, "exit after this long")
	flag.Parse()
	if err := run(*oktaLimit, *lifetime); err != nil {
		log.Fatal(err)
	}
}

// exchange is what the server was sent, and what it answered.
type exchange struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      string              `json:"query"`
	Header     map[string][]string `json:"header"`
	ArrivedMs  int64               `json:"arrivedMs"` // Unix milliseconds
	Status     int                 `json:"status"`
	RespHeader map[string][]string `json:"respHeader"`
}

// fixture holds the recorded calls and exchanges.
type fixture struct {
	mu        sync.Mutex
	oauth     []string
	forget    []string
	exchanges []exchange
}

func (f *fixture) record(list *[]string) func(context.Context, string) error {
	return func(_ context.Context, userID string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		*list = append(*list, userID)
		return nil
	}
}

func run(oktaLimit int, lifetime time.Duration) error {
	f := &fixture{}
	st := memstore.New()
	defer st.Close()
	cookie := revoke.DefaultCookie()
	cookie.Secure = false // plain HTTP on the loopback interface
	m, err := revoke.New(st,
		revoke.WithCookieKeys(bytes.Repeat([]byte("j"), 32)),
		revoke.WithCookie(cookie),
		revoke.WithOAuthTokenRevoker(f.record(&f.oauth)),
		revoke.WithDeviceForgetter(f.record(&f.forget)),
	)
	if err != nil {
		return err
	}
	opts := []handlers.Option{
		handlers.WithLogger(slog.New(slog.DiscardHandler)),
		handlers.WithAdminTokens(adminToken),
		handlers.WithUserLookup(func(_ context.Context, id string) (bool, error) { return users[id], nil }),
	}
	if oktaLimit > 0 {
		opts = append(opts, handlers.WithRateLimit(handlers.FamilyOkta, handlers.RateLimit{Requests: oktaLimit, Window: time.Second}))
	}
	h, err := handlers.New(m, opts...)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	h.Mount(mux)
	mux.HandleFunc("POST /_fixture/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			User  string `json:"user"`
			Count int    `json:"count"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.User == "" {
			http.Error(w, "want {user, count}", http.StatusBadRequest)
			return
		}
		type created struct {
			ID     string `json:"id"`
			Token  string `json:"token"`
			Cookie string `json:"cookie"` // a Cookie header value
		}
		out := []created{}
		for range max(req.Count, 1) {
			s, token, err := m.Create(r.Context(), req.User, revoke.Device{IP: "203.0.113.9", UserAgent: "interop-js/1.0"})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			rec := httptest.NewRecorder()
			if err := m.SetCookie(rec, token, time.Now().Add(time.Hour)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			c := rec.Result().Cookies()[0]
			out = append(out, created{s.ID, token, c.Name + "=" + c.Value})
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("POST /_fixture/active", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "want {token}", http.StatusBadRequest)
			return
		}
		_, err := m.Resolve(r.Context(), req.Token)
		writeJSON(w, map[string]bool{"active": err == nil})
	})
	mux.HandleFunc("GET /_fixture/calls", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, map[string][]string{"oauth": append([]string{}, f.oauth...), "forget": append([]string{}, f.forget...)})
	})
	mux.HandleFunc("GET /_fixture/exchanges", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, slices.Clone(f.exchanges))
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: f.tap(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{
		"url": "http://" + ln.Addr().String(), "adminToken": adminToken,
	}); err != nil {
		return err
	}

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stdinClosed:
	case <-time.After(lifetime):
		fmt.Fprintln(os.Stderr, "jsserver: lifetime over")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// tap records every request but the fixture routes'.
func (f *fixture) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if strings.HasPrefix(r.URL.Path, "/_fixture/") {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.exchanges = append(f.exchanges, exchange{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(),
			arrived.UnixMilli(), sw.status, w.Header().Clone()})
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

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
