package main

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	is := is.New(t)
	cfg, err := parseConfig(nil, env(), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.addr, "127.0.0.1:8080")
	is.Equal(cfg.dbPath, "revoke-demo.db")
	is.True(!cfg.memory)
	is.True(!cfg.secureCookie)
	is.Equal(cfg.password, "demo")
	is.True(cfg.defaultPassword)
	is.True(cfg.adminTokenMade)
	is.True(len(cfg.adminToken) >= 16) // long enough for handlers.WithAdminTokens
	is.Equal(cfg.cookieKey, nil)       // random key
	is.Equal(cfg.storeName(), "sqlite:revoke-demo.db")
}

func TestParseConfigFlagsAndEnv(t *testing.T) {
	is := is.New(t)
	key := strings.Repeat("ab", 32)
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-memory", "-secure-cookie"},
		env(envPassword, "s3cret", envAdminToken, "an-admin-token-of-some-length", envCookieKey, key), io.Discard)
	is.NoErr(err)
	is.Equal(cfg.addr, "127.0.0.1:0")
	is.True(cfg.memory)
	is.True(cfg.secureCookie)
	is.Equal(cfg.password, "s3cret")
	is.True(!cfg.defaultPassword)
	is.Equal(cfg.adminToken, "an-admin-token-of-some-length")
	is.True(!cfg.adminTokenMade)
	is.Equal(hex.EncodeToString(cfg.cookieKey), key)
	is.Equal(cfg.storeName(), "memory")
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"short key", nil, env(envCookieKey, hex.EncodeToString(make([]byte, 16))), "at least 32"},
		{"garbage key", nil, env(envCookieKey, "not a key!"), "neither hex nor base64"},
		{"public address, default password", []string{"-addr", "0.0.0.0:8080"}, env(), envPassword},
		{"every interface, default password", []string{"-addr", ":8080"}, env(), envPassword},
		{"bad address", []string{"-addr", "8080"}, env(), "-addr"},
		{"empty db", []string{"-db", ""}, env(), "-db"},
		{"unknown flag", []string{"-mongodb", "mongodb://x"}, env(), "not defined"},
		{"stray argument", []string{"extra"}, env(), "unexpected"},
		{"CAEP issuer without a receiver", []string{"-caep-issuer", "https://a.example"}, env(), "-caep-push-url"},
		{"CAEP push without an issuer", []string{"-caep-push-url", "http://127.0.0.1:1/auth/ssf/events"}, env(), "need -caep-issuer"},
		{"CAEP push to no URL", []string{"-caep-issuer", "https://a.example", "-caep-push-url", "127.0.0.1:1", "-caep-push-audience", "b"}, env(), "not an http(s) URL"},
		{"CAEP format", []string{"-caep-issuer", "https://a.example", "-caep-push-url", "http://127.0.0.1:1", "-caep-push-audience", "b", "-caep-push-format", "email"}, env(), "-caep-push-format"},
		{"CAEP receiver without a transmitter", []string{"-caep-audience", "b"}, env(), "go together"},
		{"CAEP transmitter without keys", []string{"-caep-audience", "b", "-caep-transmitter", "https://a.example"}, env(), "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := parseConfig(tc.args, tc.env, io.Discard)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.want)) // error names the problem
		})
	}
}

func TestParseConfigAddresses(t *testing.T) {
	is := is.New(t)
	for _, addr := range []string{"127.0.0.1:1", "[::1]:1", "localhost:1", "127.0.0.2:1"} {
		_, err := parseConfig([]string{"-addr", addr}, env(), io.Discard)
		is.NoErr(err) // loopback is fine with the default password
	}
	_, err := parseConfig([]string{"-addr", "0.0.0.0:1"}, env(envPassword, "chosen"), io.Discard)
	is.NoErr(err) // any address once the password is chosen
}

func TestParseKey(t *testing.T) {
	is := is.New(t)
	raw := []byte("0123456789abcdef0123456789abcdef!?")
	for _, enc := range []string{
		hex.EncodeToString(raw),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		" " + hex.EncodeToString(raw) + "\n",
	} {
		key, err := parseKey(enc)
		is.NoErr(err)
		is.Equal(key, raw)
	}
}
