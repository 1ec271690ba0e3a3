package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// serveTLS reports whether the demo serves HTTPS.
func (c config) serveTLS() bool { return c.tls || c.tlsCert != "" }

// tlsConfig returns the TLS configuration of the server: with the
// certificate and key of -tls-cert and -tls-key, or else with a certificate
// generated for this run. A generated certificate is written to a file, and
// out is told where and how to trust it; its key stays in memory. cleanup
// removes the file.
func (c config) tlsConfig(listen net.IP, port string, logger *slog.Logger, out io.Writer) (_ *tls.Config, cleanup func(), err error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, nil, fmt.Errorf("-tls-cert and -tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
		logger.Info("serving HTTPS", "cert", c.tlsCert)
		return tc, func() {}, nil
	}

	ss, err := newSelfSigned(listen, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("generate a TLS certificate: %w", err)
	}
	f, err := os.CreateTemp("", "revoke-demo-cert-*.pem")
	if err != nil {
		return nil, nil, fmt.Errorf("write the TLS certificate: %w", err)
	}
	path := f.Name()
	if _, err := f.Write(ss.pem); err != nil {
		f.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("write the TLS certificate: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, nil, fmt.Errorf("write the TLS certificate: %w", err)
	}
	tc.Certificates = []tls.Certificate{ss.cert}
	logger.Info("serving HTTPS with a certificate generated for this run", "cert", path,
		"names", strings.Join(ss.names, ","), "expires", ss.expires.Format(time.DateOnly))
	printTrust(out, path, "https://localhost:"+port)
	return tc, func() { _ = os.Remove(path) }, nil
}

// printTrust tells how to make clients trust the certificate at path, which
// holds for this run only. The README says more for each Okta SDK.
func printTrust(out io.Writer, path, url string) {
	fmt.Fprintf(out, `HTTPS certificate for this run (self-signed; its key dies with the process): %[1]s
Trust it to connect:
  curl      curl --cacert %[1]s %[2]s/
  Go        SSL_CERT_FILE=%[1]s (Linux)
  Python    SSL_CERT_FILE=%[1]s
  .NET      SSL_CERT_FILE=%[1]s (Linux)
  Node.js   NODE_EXTRA_CA_CERTS=%[1]s
  Java      keytool -importcert -noprompt -alias revoke-demo -file %[1]s -keystore demo-trust.p12 -storepass changeit
            java -Djavax.net.ssl.trustStore=demo-trust.p12 -Djavax.net.ssl.trustStorePassword=changeit ...
`, path, url)
}

// checkTLSFlags refuses a certificate without its key and the reverse.
func checkTLSFlags(cfg config) error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together: give both, or neither for a generated certificate")
	}
	return nil
}
