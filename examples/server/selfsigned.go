package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// selfSignedValidity is how long a generated certificate is valid. It dies
// with the process anyway: its key is never written anywhere.
const selfSignedValidity = 30 * 24 * time.Hour

// selfSigned is a certificate generated for one run of the demo.
type selfSigned struct {
	cert    tls.Certificate
	pem     []byte // the certificate alone, for clients to trust
	names   []string
	expires time.Time
}

// newSelfSigned generates an ECDSA P-256 key and a self-signed certificate
// for localhost, 127.0.0.1, ::1 and listen, when that is another loopback
// address. It is a certificate authority as well as the server's
// certificate, so that every client accepts it as a trust anchor: some
// (OpenSSL in strict mode, as Python 3.13 uses it) want an anchor to be a CA
// with its key identifiers set. Its name constraints keep it from vouching
// for any other name, should someone trust it system-wide.
func newSelfSigned(listen net.IP, now time.Time) (*selfSigned, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	keyID := sha256.Sum256(pub)

	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if listen.IsLoopback() && !listen.Equal(ips[0]) && !listen.Equal(ips[1]) {
		ips = append(ips, listen)
	}
	names := []string{"localhost"}
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "revoke demo (localhost)", Organization: []string{"revoke demo, generated at start-up"}},
		NotBefore:             now.Add(-time.Hour), // some slack for clocks a little behind
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs nothing but itself
		SubjectKeyId:          keyID[:20],
		AuthorityKeyId:        keyID[:20],
		DNSNames:              names[:1],
		IPAddresses:           ips,
		// Trusted as a CA, it could vouch for loopback names only.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create the certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &selfSigned{
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		names:   names,
		expires: leaf.NotAfter,
	}, nil
}
