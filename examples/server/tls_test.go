package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

var certPathRE = regexp.MustCompile(`HTTPS certificate for this run [^:]*: (\S+)`)

// httpsClient returns a client of base that trusts only the certificates in
// the PEM data, with a cookie jar, as a browser or an SDK would be.
func httpsClient(t *testing.T, base string, trusted []byte) *client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(trusted) {
		t.Fatal("no certificate in the PEM data")
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := newClient(t, base)
	c.http = &http.Client{Transport: tr, Jar: jar}
	return c
}

// TestTLSGenerated starts the demo with -tls, reads the certificate it
// wrote from the path it printed, and signs in over HTTPS, by 127.0.0.1 and
// by localhost, with a client that trusts that certificate alone: the
// cookie is Secure, and the jar sends it back.
func TestTLSGenerated(t *testing.T) {
	is := is.New(t)
	r := startRun(t, []string{"-memory", "-tls"}, env(envPassword, testPassword))
	is.True(strings.HasPrefix(r.base, "https://127.0.0.1:"))
	m := certPathRE.FindStringSubmatch(r.out.String())
	is.True(m != nil) // the certificate's path is printed
	path := m[1]
	pemData, err := os.ReadFile(path)
	is.NoErr(err)
	is.True(strings.Contains(r.out.String(), "curl --cacert "+path)) // with how to trust it
	is.True(strings.Contains(r.out.String(), "NODE_EXTRA_CA_CERTS="+path))

	u, err := url.Parse(r.base)
	is.NoErr(err)
	for _, base := range []string{r.base, "https://localhost:" + u.Port()} {
		c := httpsClient(t, base, pemData)
		lr, ck := c.login("alice", testPassword)
		is.True(ck != nil && ck.Secure) // Secure over HTTPS
		is.True(ck.HttpOnly)
		res, b := c.do(http.MethodGet, "/me", "") // the cookie from the jar
		is.Equal(res.StatusCode, http.StatusOK)
		is.Equal(decode[meResponse](t, b).SessionID, lr.SessionID)
		is.Equal(res.Proto, "HTTP/2.0")
		res, _ = c.do(http.MethodDelete, "/auth/sessions/"+lr.SessionID, "", "Origin", base, "Sec-Fetch-Site", "same-origin")
		is.Equal(res.StatusCode, http.StatusBadRequest) // the current session: the mounted handlers see the cookie too
	}

	// Plain HTTP to the HTTPS port gets nothing of the demo.
	res, err := http.Get(strings.Replace(r.base, "https://", "http://", 1) + "/me")
	if err == nil {
		is.Equal(res.StatusCode, http.StatusBadRequest)
		res.Body.Close()
	}
	// A client that does not trust the certificate is refused.
	_, err = http.Get(r.base + "/")
	var unknown x509.UnknownAuthorityError
	is.True(errors.As(err, &unknown))

	r.stop(t)
	_, err = os.Stat(path)
	is.True(errors.Is(err, fs.ErrNotExist)) // removed at shutdown
}

// TestSelfSignedCertificate: the generated certificate names the loopback
// addresses and localhost, and nothing else can chain to it.
func TestSelfSignedCertificate(t *testing.T) {
	is := is.New(t)
	now := time.Now()
	ss, err := newSelfSigned(net.ParseIP("127.0.0.2"), now)
	is.NoErr(err)
	leaf := ss.cert.Leaf
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "127.0.0.2"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		is.NoErr(err) // valid for each loopback name
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool})
	is.True(err != nil)
	is.True(leaf.NotAfter.Before(now.Add(selfSignedValidity + time.Minute)))
	is.Equal(leaf.PermittedDNSDomains, []string{"localhost"}) // it vouches for loopback names only

	ss, err = newSelfSigned(net.IPv4zero, now)
	is.NoErr(err)
	is.Equal(len(ss.cert.Leaf.IPAddresses), 2) // not for an address beyond loopback
}

// TestTLSFromFiles: with -tls-cert and -tls-key the demo serves that
// certificate, and generates none.
func TestTLSFromFiles(t *testing.T) {
	is := is.New(t)
	ss, err := newSelfSigned(net.IPv4(127, 0, 0, 1), time.Now())
	is.NoErr(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(ss.cert.PrivateKey)
	is.NoErr(err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	is.NoErr(os.WriteFile(certFile, ss.pem, 0o644))
	is.NoErr(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))

	r := startRun(t, []string{"-memory", "-tls-cert", certFile, "-tls-key", keyFile}, env(envPassword, testPassword))
	is.True(!certPathRE.MatchString(r.out.String())) // nothing generated
	c := httpsClient(t, r.base, ss.pem)
	_, ck := c.login("bob", testPassword)
	is.True(ck.Secure)
	is.Equal(c.meStatus(), http.StatusOK)
}

func TestTLSFlagErrors(t *testing.T) {
	is := is.New(t)
	for _, args := range [][]string{{"-tls-cert", "cert.pem"}, {"-tls", "-tls-key", "key.pem"}} {
		_, err := parseConfig(args, env(), io.Discard)
		is.True(err != nil && strings.Contains(err.Error(), "-tls-cert and -tls-key"))
	}
	cfg, err := parseConfig([]string{"-tls"}, env(), io.Discard)
	is.NoErr(err)
	is.True(cfg.secureCookie) // Secure cookies with HTTPS

	dir := t.TempDir()
	err = run(t.Context(), []string{"-addr", "127.0.0.1:0", "-memory", "-tls-cert", filepath.Join(dir, "none.pem"), "-tls-key", filepath.Join(dir, "none.key")}, env(envPassword, testPassword), io.Discard)
	is.True(err != nil && strings.Contains(err.Error(), "-tls-cert")) // a missing file stops the start
}
