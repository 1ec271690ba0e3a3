package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestRawGet(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Session-Token") != "tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte(`{"userId":"alice"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	g, err := newRawGet(srv.URL, "/me", http.Header{"X-Session-Token": {"tok"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	for range 5 {
		if status, err := g.do(); err != nil || status != http.StatusOK {
			t.Fatalf("do: %d, %v", status, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 requests, want 1 kept alive", n)
	}
	bad, _ := newRawGet(srv.URL, "/me", http.Header{})
	defer bad.close()
	if status, err := bad.do(); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, %v", status, err)
	}
	closing, _ := newRawGet(srv.URL, "/close", http.Header{"X-Session-Token": {"tok"}})
	defer closing.close()
	for range 2 {
		if status, err := closing.do(); err != nil || status != http.StatusOK {
			t.Fatalf("an answer that closes the connection: %d, %v", status, err)
		}
	}
	if _, err := newRawGet("https://example.com", "/", nil); err == nil {
		t.Fatal("an https:// base was accepted")
	}
}
