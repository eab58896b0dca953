package oidc

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/idp/hydratest"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A browser login that names only its issuer gets its endpoints from a
// real ORY Hydra's discovery document (authorization, token and
// end-session endpoints), and the Envoy configuration gatehouse emits with
// them sends browsers to Hydra's authorization endpoint, exchanges codes
// at its token endpoint (a cluster of its own) and passes Check. The full
// browser flow needs Envoy, which does not run here (docs/oauth2.md).
func TestLoginDiscoveryHydra(t *testing.T) {
	h := hydratest.Start(t)
	src := `kind: Gateway
name: web
spec:
  listeners:
    - {name: https, port: 8443, protocol: HTTPS, tls: {certificate: c.pem, key: k.pem}}
---
kind: Service
name: app
spec:
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Authentication
name: hydra-jwt
spec:
  jwt: {issuer: "` + h.Issuer + `", audiences: [web], discovery: {allowInsecureHTTP: true}}
---
kind: Authentication
name: hydra-login
spec:
  oauth2Login:
    issuer: "` + h.Issuer + `"
    allowInsecureHTTP: true
    clientId: web
    clientSecretFile: client
    hmacSecretFile: hmac
---
kind: Route
name: app
spec:
  gateways: [web]
  backends: [{service: app}]
  authentication: [hydra-login, hydra-jwt]
`
	cert, err := os.ReadFile("../../xds/translate/testdata/in/oauth2login/certs/www.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("../../xds/translate/testdata/in/oauth2login/certs/www-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(src)}, "client": {Data: []byte("s3cret\n")},
		"hmac": {Data: []byte("0123456789abcdef0123456789abcdef\n")}, "c.pem": {Data: cert}, "k.pem": {Data: key}}, nil)
	for _, r := range snap.Rejected {
		t.Fatalf("policy rejected %s: %v", r.Ref, r.Errors)
	}
	targets := Targets(snap)
	login := TargetOfLogin(snap.Authentications["hydra-login"].Spec.OAuth2Login)
	if _, ok := targets[login]; !ok {
		t.Fatalf("targets %v lack the login's issuer", targets)
	}

	d := New(Config{})
	d.Set(targets)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 10*time.Second, "login endpoints discovered", func() bool { return d.Endpoints(login).TokenEndpoint != "" })
	doc := d.Endpoints(login)
	if doc.AuthorizationEndpoint != h.Public+"/oauth2/auth" || doc.TokenEndpoint != h.Public+"/oauth2/token" || doc.EndSessionEndpoint != h.Public+"/oauth2/sessions/logout" {
		t.Errorf("discovered %+v", doc)
	}
	for _, st := range d.Status() {
		if st.Issuer == h.Issuer && st.TokenEndpoint != doc.TokenEndpoint {
			t.Errorf("status %+v lacks the token endpoint", st)
		}
	}

	groups, err := translate.Translate(snap, translate.Options{
		DiscoveredJWKS: func(j *policy.JWTAuth) string { return d.JWKSURI(TargetOf(j)) },
		DiscoveredLogin: func(l *policy.OAuth2LoginAuth) translate.LoginEndpoints {
			e := d.Endpoints(TargetOfLogin(l))
			return translate.LoginEndpoints{Authorization: e.AuthorizationEndpoint, Token: e.TokenEndpoint, EndSession: e.EndSessionEndpoint}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := groups[translate.GroupKey{Gateway: "web", Client: translate.ClientEnvoy}]
	if err := translate.Check(g, nil); err != nil {
		t.Fatal(err)
	}
	var cfg *oauth2v3.OAuth2Config
	for _, r := range g.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if a := rt.GetTypedPerFilterConfig()[wire.FilterOAuth2]; a != nil {
					m := &oauth2v3.OAuth2PerRoute{}
					if err := a.UnmarshalTo(m); err != nil {
						t.Fatal(err)
					}
					cfg = m.GetConfig()
				}
			}
		}
	}
	if cfg == nil {
		t.Fatal("no login config emitted")
	}
	if cfg.GetAuthorizationEndpoint() != doc.AuthorizationEndpoint || cfg.GetTokenEndpoint().GetUri() != doc.TokenEndpoint ||
		cfg.GetEndSessionEndpoint() != doc.EndSessionEndpoint || cfg.GetCredentials().GetClientId() != "web" {
		t.Errorf("emitted login config %v", cfg)
	}
}
