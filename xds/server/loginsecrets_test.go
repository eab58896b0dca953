package server

import (
	"os"
	"strings"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The browser login's client secret and HMAC key are served over ADS as
// generic secrets to the proxies of the Gateway whose Routes use them
// (the translator's oauth2login case, published as gatehouse serve
// does), and a proxy of another Gateway asking for them by name gets
// nothing.
func TestLoginSecretsServedOverADS(t *testing.T) {
	const dir = "../translate/testdata/in/oauth2login"
	snap := policy.Load(os.DirFS(dir), nil)
	for _, r := range snap.Rejected {
		t.Fatalf("policy rejected %s: %v", r.Ref, r.Errors)
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clas := map[string]*endpointv3.ClusterLoadAssignment{}
	for _, g := range groups {
		for eds := range g.EDS {
			clas[eds] = translate.Endpoints(eds, "", nil)
		}
	}
	h := newHarness(t)
	mustPublish(t, h.pub, groups, clas)
	want, err := os.ReadFile(dir + "/secrets/portal-hmac")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"oauth2/portal-login/client-secret", "oauth2/portal-login/hmac", "tls/web/https"}

	web := h.open(t, "web-1", "web", "envoy")
	web.send(resource.SecretType, names, "", "")
	r := web.recv(resource.SecretType)
	got := map[string]*tlsv3.Secret{}
	for _, a := range r.GetResources() {
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil {
			t.Fatal(err)
		}
		got[s.GetName()] = s
	}
	if s := got["oauth2/portal-login/hmac"]; string(s.GetGenericSecret().GetSecret().GetInlineBytes()) != strings.TrimSpace(string(want)) {
		t.Errorf("hmac secret served as %v", s)
	}
	if got["oauth2/portal-login/client-secret"].GetGenericSecret() == nil {
		t.Errorf("client secret not served: %v", got)
	}

	api := h.open(t, "api-1", "api", "envoy")
	api.send(resource.SecretType, names[:2], "", "")
	select {
	case r, ok := <-api.resp:
		if ok {
			for _, a := range r.GetResources() {
				s := &tlsv3.Secret{}
				_ = a.UnmarshalTo(s)
				t.Errorf("the api Gateway's proxy got secret %s", s.GetName())
			}
			if len(r.GetResources()) == 0 {
				t.Logf("api: empty secrets response (version %s)", r.GetVersionInfo())
			}
		}
	case <-time.After(500 * time.Millisecond):
	}
}
