package explain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

// Explain names a Route's browser login and never shows its secrets; a
// changed client secret or cookie key shows in a plan diff as a changed
// secret, never its value.
func TestExplainLoginNoSecrets(t *testing.T) {
	in := goldenCases(t)["oauth2login"]
	var secrets []string
	for _, f := range []string{"portal-client", "portal-hmac", "sso-client", "sso-hmac"} {
		b, err := os.ReadFile(filepath.Join(goldenDir, "oauth2login", "secrets", f))
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, strings.TrimSpace(string(b)))
	}
	res := explainOK(t, in, Request{Gateway: "web", Host: "www.example.com:8443", Path: "/account", Method: "GET"})
	if res.Route == nil || res.Route.Name != "portal" {
		t.Fatalf("route %+v (%s)", res.Route, res.NoMatch)
	}
	found := false
	for _, c := range res.Route.Authentication.Accepts {
		if c.Kind == "oauth2Login" && c.Name == "portal-login" && strings.Contains(c.Detail, "https://idp.example.com/oauth2/auth") {
			found = true
		}
	}
	if !found {
		t.Errorf("accepts %+v", res.Route.Authentication.Accepts)
	}
	js, _ := json.Marshal(res)
	var text strings.Builder
	if err := WriteText(&text, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(js)+text.String(), s) {
			t.Errorf("explain shows a login secret: %s", js)
		}
	}

	other := goldenCases(t)["oauth2login"]
	for k, g := range other.Groups {
		c := *g
		c.Secrets = append(c.Secrets[:0:0], g.Secrets...)
		for i, r := range c.Secrets {
			if s := r.(*tlsv3.Secret); s.GetName() == "oauth2/portal-login/hmac" {
				n := proto.Clone(s).(*tlsv3.Secret)
				n.GetGenericSecret().Secret = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: []byte("rotated-hmac-key-rotated-hmac-key-0001")}}
				c.Secrets[i] = n
			}
		}
		other.Groups[k] = &c
	}
	cs, err := Diff(in.Groups, other.Groups)
	if err != nil || len(cs) != 1 || cs[0].Name != "oauth2/portal-login/hmac" {
		t.Fatalf("%v %+v", err, cs)
	}
	js, _ = json.Marshal(cs)
	if strings.Contains(string(js), "rotated-hmac-key") || strings.Contains(string(js), secrets[1]) || !strings.Contains(string(js), "(secret value)") {
		t.Errorf("diff of a rotated cookie key: %s", js)
	}
}
