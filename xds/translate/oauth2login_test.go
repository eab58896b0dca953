package translate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// loginCase translates the oauth2login golden case with the given
// discovery stand-in and returns its groups by Gateway (Envoy).
func loginCase(t *testing.T, disc func(*policy.OAuth2LoginAuth) LoginEndpoints) (web, api *Group) {
	t.Helper()
	snap, _ := loadCase(t, filepath.Join("testdata", "in", "oauth2login"))
	groups, err := Translate(snap, Options{DiscoveredLogin: disc})
	if err != nil {
		t.Fatal(err)
	}
	return groups[GroupKey{"web", ClientEnvoy}], groups[GroupKey{"api", ClientEnvoy}]
}

// loginRoutes maps the route names of a group's HTTPS route config to
// their OAuth2PerRoute configs (nil: none).
func loginRoutes(t *testing.T, g *Group) map[string]*oauth2v3.OAuth2Config {
	t.Helper()
	out := map[string]*oauth2v3.OAuth2Config{}
	for _, r := range g.Routes {
		rc := r.(*routev3.RouteConfiguration)
		if rc.GetName() != "routes/web/https" {
			continue
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				out[rt.GetName()] = nil
				if a := rt.GetTypedPerFilterConfig()[wire.FilterOAuth2]; a != nil {
					m := &oauth2v3.OAuth2PerRoute{}
					if err := a.UnmarshalTo(m); err != nil {
						t.Fatal(err)
					}
					out[rt.GetName()] = m.GetConfig()
				}
			}
		}
	}
	return out
}

// The login is configured on the Routes that use it only; API callers
// with a bearer token pass through; cookies are per login, SameSite set,
// secrets named over SDS; ext_authz is not told about the login.
func TestLoginPerRoute(t *testing.T) {
	web, _ := loginCase(t, goldenDiscoveredLogin)
	rs := loginRoutes(t, web)
	if rs["portal-api"] != nil {
		t.Errorf("the API Route without login got an OAuth2 config: %v", rs["portal-api"])
	}
	p, a := rs["portal"], rs["admin"]
	if p == nil || a == nil {
		t.Fatalf("login Routes without config: portal %v admin %v", p, a)
	}
	if !p.GetForwardBearerToken() || p.GetPreserveAuthorizationHeader() || len(p.GetPassThroughMatcher()) != 1 ||
		p.GetPassThroughMatcher()[0].GetName() != "authorization" || p.GetPassThroughMatcher()[0].GetStringMatch().GetPrefix() != "Bearer " {
		t.Errorf("portal token handling: forward %v preserve %v pass-through %v", p.GetForwardBearerToken(), p.GetPreserveAuthorizationHeader(), p.GetPassThroughMatcher())
	}
	if p.GetCredentials().GetTokenSecret().GetSdsConfig().GetAds() == nil || p.GetCredentials().GetHmacSecret().GetSdsConfig().GetAds() == nil {
		t.Errorf("portal secrets not over ADS: %v", p.GetCredentials())
	}
	if p.GetCookieConfigs().GetOauthHmacCookieConfig().GetSameSite() != oauth2v3.CookieConfig_STRICT ||
		p.GetCookieConfigs().GetCodeVerifierCookieConfig().GetSameSite() != oauth2v3.CookieConfig_LAX ||
		a.GetCookieConfigs().GetBearerTokenCookieConfig().GetSameSite() != oauth2v3.CookieConfig_LAX {
		t.Errorf("SameSite: portal %v admin %v", p.GetCookieConfigs(), a.GetCookieConfigs())
	}
	t.Logf("OAuth2PerRoute of the portal Route: %d bytes serialized", proto.Size(&oauth2v3.OAuth2PerRoute{Config: p}))
	if p.GetCredentials().GetCookieNames().GetOauthHmac() == a.GetCredentials().GetCookieNames().GetOauthHmac() {
		t.Errorf("two logins share the cookie %q", p.GetCredentials().GetCookieNames().GetOauthHmac())
	}
	if a.GetAuthorizationEndpoint() != "https://login.example.com/oauth2/authorize" || a.GetTokenEndpoint().GetCluster() != "idp/login.example.com:8443" ||
		a.GetRedirectUri() != "https://%REQ(:authority)%/admin/oauth2/callback" || a.GetSignoutPath().GetPath().GetExact() != "/admin/oauth2/logout" {
		t.Errorf("discovered login: %v", a)
	}
	// ext_authz is told about the token Authentication only.
	for _, r := range web.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				a := rt.GetTypedPerFilterConfig()[wire.FilterExtAuthzClosed]
				if rt.GetName() != "portal" && rt.GetName() != "admin" {
					continue
				}
				ea := &extauthzv3.ExtAuthzPerRoute{}
				if a == nil || a.UnmarshalTo(ea) != nil {
					t.Fatalf("route %s: no fail-closed ext_authz", rt.GetName())
				}
				if got := ea.GetCheckSettings().GetContextExtensions()[wire.CtxAuthentication]; got != "corp-jwt" {
					t.Errorf("route %s: ext_authz told authentication %q, want corp-jwt", rt.GetName(), got)
				}
			}
		}
	}
}

// The secrets: the file contents travel only in the web Gateway's Secret
// resources, as generic secrets; nothing else of any group carries them,
// and the api Gateway (no login) gets neither secret nor filter.
func TestLoginSecretsOnlyOverSDS(t *testing.T) {
	web, api := loginCase(t, goldenDiscoveredLogin)
	dir := filepath.Join("testdata", "in", "oauth2login", "secrets")
	var values []string
	for _, f := range []string{"portal-client", "portal-hmac", "sso-client", "sso-hmac"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, strings.TrimSpace(string(b)))
	}
	leaks := func(what string, rs []typesResource) {
		for _, r := range rs {
			b, _ := proto.Marshal(r)
			j, _ := protojson.Marshal(r)
			for _, v := range values {
				if strings.Contains(string(b), v) || strings.Contains(string(j), v) {
					t.Errorf("%s %v carries a login secret", what, r.(interface{ GetName() string }).GetName())
				}
			}
		}
	}
	for _, g := range []*Group{web, api} {
		leaks("listener", g.Listeners)
		leaks("route config", g.Routes)
		leaks("cluster", g.Clusters)
	}
	leaks("api secret", api.Secrets)
	got := map[string]string{}
	for _, r := range web.Secrets {
		s := r.(*tlsv3.Secret)
		if gs := s.GetGenericSecret(); gs != nil {
			got[s.GetName()] = string(gs.GetSecret().GetInlineBytes())
		}
	}
	want := map[string]string{
		"oauth2/portal-login/client-secret": values[0], "oauth2/portal-login/hmac": values[1],
		"oauth2/sso/client-secret": values[2], "oauth2/sso/hmac": values[3],
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("secret %s = %q, want the file's content", k, got[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("generic secrets %v", got)
	}
	for _, l := range api.Listeners {
		b, _ := protojson.Marshal(l)
		if strings.Contains(string(b), wire.FilterOAuth2) {
			t.Error("the api Gateway (no login) got the OAuth2 filter")
		}
	}
}

// An issuer never discovered: no login filter, no per-route config, no
// secret or token cluster for it; the Route keeps its token
// Authentication (a request without a token is refused, never let in).
func TestLoginUndiscoveredFailsClosed(t *testing.T) {
	web, _ := loginCase(t, nil)
	rs := loginRoutes(t, web)
	if rs["admin"] != nil {
		t.Errorf("undiscovered login configured: %v", rs["admin"])
	}
	if rs["portal"] == nil {
		t.Error("the explicit login lost its config")
	}
	for _, r := range web.Secrets {
		if strings.HasPrefix(r.(*tlsv3.Secret).GetName(), "oauth2/sso/") {
			t.Errorf("secret %s sent for a login that is not configured", r.(*tlsv3.Secret).GetName())
		}
	}
	for _, r := range web.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if rt.GetName() == "admin" && rt.GetTypedPerFilterConfig()[wire.FilterExtAuthzClosed] == nil {
					t.Error("the admin Route lost its fail-closed ext_authz")
				}
			}
		}
	}
	if err := Check(cloneGroup(web), nil); err != nil {
		t.Error(err)
	}
}

// loginGroup is a fresh, unchecked copy of the web group.
func loginGroup(t *testing.T) *Group {
	web, _ := loginCase(t, goldenDiscoveredLogin)
	return cloneGroup(web)
}

// editLogin rewrites the portal Route's OAuth2PerRoute.
func editLogin(t *testing.T, g *Group, edit func(rt *routev3.Route, c *oauth2v3.OAuth2Config)) {
	t.Helper()
	for _, r := range g.Routes {
		for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				a := rt.GetTypedPerFilterConfig()[wire.FilterOAuth2]
				if rt.GetName() != "portal" || a == nil {
					continue
				}
				m := &oauth2v3.OAuth2PerRoute{}
				if err := a.UnmarshalTo(m); err != nil {
					t.Fatal(err)
				}
				edit(rt, m.GetConfig())
				if rt.TypedPerFilterConfig[wire.FilterOAuth2] == a { // not replaced by edit
					rt.TypedPerFilterConfig[wire.FilterOAuth2] = mustAny(m)
				}
				return
			}
		}
	}
	t.Fatal("no portal login config")
}

// Each way an attacker or a translator bug could weaken the login, or get
// it refused by Envoy at load, fails Check.
func TestCheckLogin(t *testing.T) {
	if err := Check(loginGroup(t), nil); err != nil {
		t.Fatalf("the valid group fails: %v", err)
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T, g *Group)
		want   string
	}{
		{"client secret not in the snapshot", func(t *testing.T, g *Group) {
			g.Secrets = dropSecret(g.Secrets, "oauth2/portal-login/client-secret")
		}, `secret "oauth2/portal-login/client-secret" does not exist`},
		{"hmac key empty", func(t *testing.T, g *Group) {
			for _, r := range g.Secrets {
				if s := r.(*tlsv3.Secret); s.GetName() == "oauth2/portal-login/hmac" {
					s.GetGenericSecret().Secret = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{}}
				}
			}
		}, "is not a non-empty generic secret"},
		{"secret named a TLS certificate", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.Credentials.TokenSecret.Name = "tls/web/https" })
		}, "is not a non-empty generic secret"},
		{"secret without SDS (static, bootstrap only)", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.Credentials.TokenSecret.SdsConfig = nil })
		}, "is not fetched over ADS"},
		{"no token secret", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.Credentials.TokenSecret = nil })
		}, "token_secret is required"},
		{"end session without openid", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.AuthScopes = []string{"profile"} })
		}, "end session endpoint is only supported for OpenID Connect"},
		{"bearer forwarded and client Authorization preserved", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.PreserveAuthorizationHeader = true })
		}, "at most one of forward_bearer_token"},
		{"ID token forwarded on :path", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.ForwardIdToken = &oauth2v3.OAuth2TokenForwarding{Header: ":path"}
			})
		}, "cannot be set"},
		{"pass-through on the forwarded ID token header", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.ForwardIdToken = &oauth2v3.OAuth2TokenForwarding{Header: "x-id-token"}
				c.PassThroughMatcher = append(c.PassThroughMatcher, &routev3.HeaderMatcher{Name: "X-Id-Token"})
			})
		}, "matches on the forwarded ID token header"},
		{"token endpoint cluster missing", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.TokenEndpoint.HttpUpstreamType = &corev3.HttpUri_Cluster{Cluster: "idp/gone"}
			})
		}, `token_endpoint cluster "idp/gone" does not exist`},
		{"authorization endpoint not a URL", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.AuthorizationEndpoint = "idp.example.com/auth" })
		}, "invalid authorization endpoint URL"},
		// Parses, https, but no host: the browser would be sent nowhere.
		{"authorization endpoint without a host", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.AuthorizationEndpoint = "https:///auth" })
		}, "invalid authorization endpoint URL"},
		{"authorization endpoint not http(s)", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.AuthorizationEndpoint = "javascript://idp.example.com/auth"
			})
		}, "invalid authorization endpoint URL"},
		// The ID token forwarded as Authorization is a second owner of
		// that header besides forward_bearer_token.
		{"ID token forwarded as Authorization next to the bearer token", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.ForwardIdToken = &oauth2v3.OAuth2TokenForwarding{Header: "Authorization"}
			})
		}, "at most one of forward_bearer_token"},
		{"two logins share a cookie", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.Credentials.CookieNames.OauthHmac = "GatehouseHMAC-" + loginCookieSuffix("web", "sso")
			})
		}, "is also used by the login signed with"},
		{"default cookie names", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.Credentials.CookieNames.IdToken = "" })
		}, "cookie names must all be set"},
		{"callback path a prefix", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
				c.RedirectPathMatcher.GetPath().MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: "/"}
			})
		}, "must be two different exact paths"},
		{"logout on the callback path", func(t *testing.T, g *Group) {
			editLogin(t, g, func(_ *routev3.Route, c *oauth2v3.OAuth2Config) { c.SignoutPath = c.RedirectPathMatcher })
		}, "must be two different exact paths"},
		{"login Route without the fail-closed ext_authz", func(t *testing.T, g *Group) {
			editLogin(t, g, func(rt *routev3.Route, _ *oauth2v3.OAuth2Config) {
				rt.TypedPerFilterConfig[wire.FilterExtAuthzClosed] = anyExtAuthzDisabled
			})
		}, "must call the fail-closed ext_authz"},
		{"per-route config without config", func(t *testing.T, g *Group) {
			editLogin(t, g, func(rt *routev3.Route, _ *oauth2v3.OAuth2Config) {
				rt.TypedPerFilterConfig[wire.FilterOAuth2] = mustAny(&oauth2v3.OAuth2PerRoute{})
			})
		}, "OAuth2PerRoute without config"},
		{"login after jwt_authn", func(t *testing.T, g *Group) {
			editHCMs(t, g, func(h *hcmv3.HttpConnectionManager) {
				fs := h.HttpFilters
				for i := range fs {
					if fs[i].GetName() == wire.FilterOAuth2 {
						fs[i], fs[i+1] = fs[i+1], fs[i]
						return
					}
				}
			})
		}, "which would forward a token it never verifies"},
		{"per-route login config under another filter's name", func(t *testing.T, g *Group) {
			editLogin(t, g, func(rt *routev3.Route, _ *oauth2v3.OAuth2Config) {
				rt.TypedPerFilterConfig[wire.FilterJWT] = rt.TypedPerFilterConfig[wire.FilterOAuth2]
			})
		}, "is not a per-route config of"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := loginGroup(t)
			tc.break_(t, g)
			err := Check(g, nil)
			if err == nil {
				t.Fatal("Check passed a broken group")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestCheckLoginAccepts: what the login rules must not refuse (an http
// endpoint, as Envoy allows for a local identity provider; an ID token
// forwarded on its own header next to the bearer pass-through).
func TestCheckLoginAccepts(t *testing.T) {
	for name, edit := range map[string]func(*routev3.Route, *oauth2v3.OAuth2Config){
		"http authorization endpoint": func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
			c.AuthorizationEndpoint = "http://idp.example.com/auth"
		},
		"ID token on its own header": func(_ *routev3.Route, c *oauth2v3.OAuth2Config) {
			c.ForwardIdToken = &oauth2v3.OAuth2TokenForwarding{Header: "X-Id-Token"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := loginGroup(t)
			editLogin(t, g, edit)
			if err := Check(g, nil); err != nil {
				t.Fatalf("Check refused a valid login: %v", err)
			}
		})
	}
}

func dropSecret(rs []typesResource, name string) []typesResource {
	var out []typesResource
	for _, r := range rs {
		if r.(*tlsv3.Secret).GetName() != name {
			out = append(out, r)
		}
	}
	return out
}

// editHCMs rewrites the connection manager of every filter chain.
func editHCMs(t *testing.T, g *Group, edit func(*hcmv3.HttpConnectionManager)) {
	t.Helper()
	for _, r := range g.Listeners {
		for _, fc := range r.(*listenerv3.Listener).GetFilterChains() {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(h) {
					if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
						t.Fatal(err)
					}
					edit(h)
					f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(h)}
				}
			}
		}
	}
}

// TestLoginPartlyDiscoveredFailsClosed: discovery that yields the token
// endpoint but not the authorization endpoint leaves the login
// unconfigured (fail closed), as when nothing is discovered.
func TestLoginPartlyDiscoveredFailsClosed(t *testing.T) {
	web, _ := loginCase(t, func(l *policy.OAuth2LoginAuth) LoginEndpoints {
		e := goldenDiscoveredLogin(l)
		e.Authorization = ""
		return e
	})
	if rs := loginRoutes(t, web); rs["admin"] != nil {
		t.Errorf("login configured without an authorization endpoint: %v", rs["admin"])
	}
	if err := Check(cloneGroup(web), nil); err != nil {
		t.Error(err)
	}
}

// TestLoginDiscoveredEndSession: discovery fills only what the policy
// left out, and a discovered end_session_endpoint is taken only with the
// openid scope (Envoy refuses it otherwise: checkoauth2.go). A login
// without openid and with an issuer that advertises logout still loads.
func TestLoginDiscoveredEndSession(t *testing.T) {
	f := &gwFilters{opts: Options{DiscoveredLogin: goldenDiscoveredLogin}}
	const issuer, own = "https://login.example.com/", "https://login.example.com/own-logout"
	for _, tc := range []struct {
		name string
		l    policy.OAuth2LoginAuth
		want string
	}{
		{"openid by default", policy.OAuth2LoginAuth{Issuer: issuer}, "https://login.example.com/oauth2/logout"},
		{"without openid", policy.OAuth2LoginAuth{Issuer: issuer, Scopes: []string{"profile"}}, ""},
		{"written in the policy", policy.OAuth2LoginAuth{Issuer: issuer, EndSessionEndpoint: own}, own},
	} {
		e, ok := f.loginEndpoints(&tc.l)
		if !ok || e.EndSession != tc.want {
			t.Errorf("%s: end session %q (ok %v), want %q", tc.name, e.EndSession, ok, tc.want)
		}
	}
	snap, _ := loadCase(t, filepath.Join("testdata", "in", "oauth2login"))
	snap.Authentications["sso"].Spec.OAuth2Login.Scopes = []string{"profile"}
	groups, err := Translate(snap, Options{DiscoveredLogin: goldenDiscoveredLogin})
	if err != nil {
		t.Fatal(err)
	}
	web := groups[GroupKey{"web", ClientEnvoy}]
	if rs := loginRoutes(t, web); rs["admin"] == nil || rs["admin"].GetEndSessionEndpoint() != "" {
		t.Errorf("admin login without openid: %v, want configured without an end session endpoint", rs["admin"])
	}
	if err := Check(cloneGroup(web), nil); err != nil {
		t.Error(err)
	}
}
