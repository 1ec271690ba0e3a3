package caep

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func readVector(t *testing.T, name string) SET {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var set SET
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return set
}

// The examples of RFC 8417 (figures 1 and 2) and of the CAEP specification
// (session-revoked, simple, complex and email subjects) parse as the
// specifications describe them.
func TestSpecificationExamplesParse(t *testing.T) {
	f1 := readVector(t, "rfc8417-figure1.json")
	if f1.Issuer != "https://scim.example.com" || f1.ID != "4d3559ec67504aaba65d40b0363faad8" ||
		f1.IssuedAt.Time().Unix() != 1458496404 || len(f1.Audience) != 2 ||
		!f1.Audience.Contains("https://scim.example.com/Feeds/5d7604516b1d08641d7676ee7") {
		t.Errorf("figure 1: %+v", f1)
	}
	if _, ok := f1.Events["urn:ietf:params:scim:event:create"]; !ok || len(f1.Events) != 1 {
		t.Errorf("figure 1 events: %v", f1.Events)
	}
	if _, _, ok, _ := f1.SessionRevoked(); ok {
		t.Error("figure 1 read as session-revoked")
	}

	f2 := readVector(t, "rfc8417-figure2.json")
	if !f2.Audience.Contains("s6BhdRkqt3") || f2.ID != "bWJq" {
		t.Errorf("figure 2 (single audience string): %+v", f2)
	}
	if _, ok := f2.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Errorf("figure 2 events: %v", f2.Events)
	}

	simple := readVector(t, "caep-session-revoked-simple.json")
	ev, sub, ok, err := simple.SessionRevoked()
	if err != nil || !ok || ev.EventTimestamp != 1615304991643 || sub.Format != FormatOpaque ||
		sub.ID != "dMTlD|1600802906337.16|16008.16" || string(simple.TransactionID) != "8675309" {
		t.Errorf("CAEP simple: %+v %+v %v %v", ev, sub, ok, err)
	}

	complexSET := readVector(t, "caep-session-revoked-complex.json")
	ev, sub, ok, err = complexSET.SessionRevoked()
	if err != nil || !ok || sub.Format != FormatComplex || sub.sessionID() != "dMTlD|1600802906337.16|16008.16" ||
		sub.user().Format != FormatIssSub || sub.user().Issuer != "https://idp.example.com/123456789/" ||
		ev.InitiatingEntity != "policy" || ev.ReasonAdmin["en"] != "Landspeed Policy Violation: C076E82F" ||
		ev.ReasonUser["es-410"] != "Intento de acceso desde varias regiones." || ev.EventTimestamp != 1615304991643 {
		t.Errorf("CAEP complex: %+v %+v %v %v", ev, sub, ok, err)
	}

	email := readVector(t, "caep-session-revoked-email.json")
	_, sub, ok, err = email.SessionRevoked()
	if err != nil || !ok || sub.user().Format != FormatEmail || sub.user().Email != "user@sp.example.com" {
		t.Errorf("CAEP email: %+v %v %v", sub, ok, err)
	}
}

func newKeys(t *testing.T) map[string]crypto.Signer {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"ES256": ec, "RS256": rs}
}

// Each example, signed by the app's Signer with ES256 and with RS256,
// verifies with the Signer's JWKS and comes back unchanged, typ included.
func TestSpecificationExamplesRoundTrip(t *testing.T) {
	vectors := []string{"rfc8417-figure1.json", "rfc8417-figure2.json", "caep-session-revoked-simple.json",
		"caep-session-revoked-complex.json", "caep-session-revoked-email.json"}
	for alg, key := range newKeys(t) {
		s, err := NewSigner(key, "k-"+alg)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range vectors {
			set := readVector(t, name)
			raw, err := s.Sign(set)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if h := obj.Signatures[0].Protected; h.ExtraHeaders[jose.HeaderType] != Type || h.KeyID != "k-"+alg || h.Algorithm != alg {
				t.Errorf("%s %s header: %+v", alg, name, h)
			}
			var keys []crypto.PublicKey
			for _, k := range s.JWKS().Keys {
				keys = append(keys, k.Key)
			}
			v, err := NewVerifier(set.Audience[0], []Transmitter{{Issuer: set.Issuer, Keys: keys}})
			if err != nil {
				t.Fatal(err)
			}
			v.now = func() time.Time { return set.IssuedAt.Time() }
			got, err := v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("%s %s: %v", alg, name, err)
			}
			want, _ := json.Marshal(set)
			have, _ := json.Marshal(got)
			if string(want) != string(have) {
				t.Errorf("%s %s: round trip\n got %s\nwant %s", alg, name, have, want)
			}
		}
	}
}
