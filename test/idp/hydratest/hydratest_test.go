package hydratest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The harness's own promises, which the OIDC and JWT tests rely on: the
// discovery document names the issuer and the JWKS, a JWT client gets
// signed JWT access tokens whose kid is in that JWKS, and a client cannot
// obtain a scope it was not given.
func TestHarness(t *testing.T) {
	h := Start(t)
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, h.Public+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != h.Issuer || disc.JWKSURI != h.Public+"/.well-known/jwks.json" {
		t.Fatalf("discovery %+v, want issuer %s", disc, h.Issuer)
	}
	c := h.CreateClient(ClientOptions{Scopes: []string{"read"}, JWT: true})
	tok := h.Token(c, "read")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT client got %q, want a JWT", tok)
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var jh struct{ Kid, Alg string }
	json.Unmarshal(hdr, &jh)
	var jwks struct{ Keys []struct{ Kid string } }
	getJSON(t, disc.JWKSURI, &jwks)
	found := false
	for _, k := range jwks.Keys {
		found = found || k.Kid == jh.Kid
	}
	if !found || jh.Alg == "" || jh.Alg == "none" {
		t.Errorf("JWT header %+v, JWKS kids %+v: want a signed token with a published kid", jh, jwks.Keys)
	}
	if _, err := h.TryToken(c, "admin"); err == nil {
		t.Error("a scope the client was not given was granted")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
