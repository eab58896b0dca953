package explain

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Authentication is what a route requires of the caller's identity.
type Authentication struct {
	// Accepts lists the credentials any one of which suffices.
	Accepts []Credential `json:"accepts,omitempty"`
	// Anonymous: a request without any credential goes on (the authz
	// service does not answer 401 for a missing one).
	Anonymous bool `json:"anonymous"`
}

// Credential is one accepted Authentication.
type Credential struct {
	Name   string `json:"name"` // the Authentication object
	Kind   string `json:"kind"` // jwt or apiKey
	Detail string `json:"detail"`
}

// Authorization is the authorization a route applies.
type Authorization struct {
	Name  string `json:"name"`
	Rules string `json:"rules"`
	// SourceCIDRs are enforced by Envoy's RBAC filter; ClientIP says
	// whether --client-ip is inside them ("" when not given).
	SourceCIDRs []string `json:"source_cidrs,omitempty"`
	ClientIP    string   `json:"client_ip,omitempty"`
	// FailOpen: the ext_authz call's failure lets the request in.
	FailOpen bool `json:"fail_open"`
}

func (e *explainer) rbac(info *RouteInfo, name string, per *anypb.Any) (FilterStep, error) {
	if per == nil {
		return FilterStep{Filter: name, Effect: "no rules on this route: allows"}, nil
	}
	cfg := &rbacv3.RBACPerRoute{}
	if err := per.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	var names []string
	var cidrs []netip.Prefix
	for n, p := range cfg.GetRbac().GetRules().GetPolicies() {
		names = append(names, n)
		for _, pr := range p.GetPrincipals() {
			if r := pr.GetRemoteIp(); r != nil {
				if a, err := netip.ParseAddr(r.GetAddressPrefix()); err == nil {
					cidrs = append(cidrs, netip.PrefixFrom(a, int(r.GetPrefixLen().GetValue())))
				}
			}
		}
	}
	sort.Strings(names)
	sort.Slice(cidrs, func(i, j int) bool { return cidrs[i].String() < cidrs[j].String() })
	az := e.authorization(info, strings.TrimSuffix(strings.TrimPrefix(firstOr(names, ""), "Authorization/"), "/sourceCIDRs"))
	for _, c := range cidrs {
		az.SourceCIDRs = append(az.SourceCIDRs, c.String())
	}
	effect := fmt.Sprintf("%s: allows only clients (the TCP peer) in %s, else 403", strings.Join(names, ", "), strings.Join(az.SourceCIDRs, ", "))
	if cfg.GetRbac().GetRules().GetAction().String() != "ALLOW" {
		effect = "rules with action " + cfg.GetRbac().GetRules().GetAction().String() + " (not modelled)"
	}
	if e.req.ClientIP != "" {
		ip := netip.MustParseAddr(e.req.ClientIP).Unmap()
		in := false
		for _, c := range cidrs {
			in = in || c.Contains(ip)
		}
		az.ClientIP = "outside: 403"
		if in {
			az.ClientIP = "inside: allowed"
		}
		effect += fmt.Sprintf(" (client %s: %s)", ip, az.ClientIP)
	}
	return FilterStep{Filter: name, Effect: effect}, nil
}

func firstOr(s []string, d string) string {
	if len(s) == 0 {
		return d
	}
	return s[0]
}

// jwt reads the route's requirement: jwt_authn checks a route only through
// its per-route config when the filter has no rules (Envoy: source/
// extensions/filters/http/jwt_authn/filter.cc).
func (e *explainer) jwt(info *RouteInfo, name string, a, per *anypb.Any, f *facts) (FilterStep, error) {
	cfg := &jwtv3.JwtAuthentication{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	if per == nil {
		if len(cfg.GetRules()) > 0 {
			return FilterStep{Filter: name, Effect: "filter-level rules (not modelled)"}, nil
		}
		return FilterStep{Filter: name, Effect: "no requirement on this route: verifies nothing"}, nil
	}
	pr := &jwtv3.PerRouteConfig{}
	if err := per.UnmarshalTo(pr); err != nil {
		return FilterStep{}, err
	}
	if pr.GetDisabled() {
		return FilterStep{Filter: name, Effect: "disabled on this route"}, nil
	}
	req := cfg.GetRequirementMap()[pr.GetRequirementName()]
	if req == nil {
		return FilterStep{}, fmt.Errorf("requirement %q is not in the filter's requirement_map", pr.GetRequirementName())
	}
	var provs []string
	allowMissing := false
	var walk func(r *jwtv3.JwtRequirement)
	walk = func(r *jwtv3.JwtRequirement) {
		switch {
		case r.GetProviderName() != "":
			provs = append(provs, r.GetProviderName())
		case r.GetAllowMissing() != nil:
			allowMissing = true
		case r.GetRequiresAny() != nil:
			for _, x := range r.GetRequiresAny().GetRequirements() {
				walk(x)
			}
		}
	}
	walk(req)
	an := e.authn(info)
	var parts []string
	for _, p := range provs {
		f.jwt[p] = true
		prov := cfg.GetProviders()[p]
		d := fmt.Sprintf("issuer %s, audiences %s", prov.GetIssuer(), strings.Join(prov.GetAudiences(), ","))
		an.add(Credential{Name: p, Kind: "jwt", Detail: d})
		parts = append(parts, p)
	}
	effect := "verifies a token (Authorization: Bearer or access_token) of " + strings.Join(parts, " or ") + "; an invalid token is 401"
	if allowMissing {
		effect += "; a request without a token goes on to ext_authz, which decides"
	}
	return FilterStep{Filter: name, Effect: effect}, nil
}

// login reads the route's OAuth2PerRoute (browser login). Nothing of the
// credentials is shown but the client id and the secrets' names.
func (e *explainer) login(info *RouteInfo, name string, per *anypb.Any, f *facts) (FilterStep, error) {
	if per == nil {
		return FilterStep{Filter: name, Effect: "no login on this route (the filter has no config of its own)"}, nil
	}
	pr := &oauth2v3.OAuth2PerRoute{}
	if err := per.UnmarshalTo(pr); err != nil {
		return FilterStep{}, err
	}
	c := pr.GetConfig()
	authn := strings.TrimSuffix(strings.TrimPrefix(c.GetStatPrefix(), "login_"), ".")
	e.authn(info).add(Credential{Name: authn, Kind: "oauth2Login", Detail: fmt.Sprintf("browser login at %s, client %s (code flow with PKCE; callback %s, logout %s)",
		c.GetAuthorizationEndpoint(), c.GetCredentials().GetClientId(), c.GetRedirectPathMatcher().GetPath().GetExact(), c.GetSignoutPath().GetPath().GetExact())})
	effect := "a request without a valid session cookie is sent to " + c.GetAuthorizationEndpoint() + " to log in; a valid cookie's access token goes on as Authorization: Bearer, verified by the filters after it"
	if v := f.headers.headers["authorization"]; len(v) > 0 && strings.HasPrefix(v[0], "Bearer ") && len(c.GetPassThroughMatcher()) > 0 {
		effect = "skipped: the request carries Authorization: Bearer (API callers pass through to the token check)"
	}
	return FilterStep{Filter: name, Effect: effect}, nil
}

func (e *explainer) authn(info *RouteInfo) *Authentication {
	if info.Authentication == nil {
		info.Authentication = &Authentication{}
	}
	return info.Authentication
}

func (a *Authentication) add(c Credential) {
	for _, x := range a.Accepts {
		if x.Name == c.Name {
			return
		}
	}
	a.Accepts = append(a.Accepts, c)
	sort.Slice(a.Accepts, func(i, j int) bool { return a.Accepts[i].Name < a.Accepts[j].Name })
}

func (e *explainer) authorization(info *RouteInfo, name string) *Authorization {
	if info.Authorization == nil {
		info.Authorization = &Authorization{}
	}
	if info.Authorization.Name == "" {
		info.Authorization.Name = name
	}
	return info.Authorization
}

// extAuthz reads the route's check settings: the context extensions name
// the route's Authentications and Authorization for gatehouse's authz
// service (wire.Ctx*).
func (e *explainer) extAuthz(info *RouteInfo, name string, a, per *anypb.Any, f *facts) (FilterStep, error) {
	cfg := &extauthzv3.ExtAuthz{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	if per == nil {
		f.extAuthz = true
		return FilterStep{Filter: name, Effect: "checks every request (no per-route config)"}, nil
	}
	pr := &extauthzv3.ExtAuthzPerRoute{}
	if err := per.UnmarshalTo(pr); err != nil {
		return FilterStep{}, err
	}
	if pr.GetDisabled() {
		return FilterStep{Filter: name, Effect: "off on this route"}, nil
	}
	f.extAuthz = true
	ctx := pr.GetCheckSettings().GetContextExtensions()
	var authn []string
	if s := ctx[wire.CtxAuthentication]; s != "" {
		authn = strings.Split(s, ",")
	}
	an := e.authn(info)
	an.Anonymous = ctx[wire.CtxAllowAnonymous] == "true"
	for _, n := range authn {
		an.add(e.credential(n))
	}
	var parts []string
	if len(authn) > 0 {
		parts = append(parts, "authentication "+strings.Join(authn, " or "))
		if an.Anonymous {
			parts = append(parts, "a request without a credential may go on")
		} else {
			parts = append(parts, "no credential: 401")
		}
	}
	if n := ctx[wire.CtxAuthorization]; n != "" {
		az := e.authorization(info, n)
		az.FailOpen = cfg.GetFailureModeAllow()
		parts = append(parts, "authorization "+n)
	}
	mode := "fails closed: an unreachable authz service denies (403)"
	if cfg.GetFailureModeAllow() {
		mode = "fails open: an unreachable authz service lets the request in"
	}
	effect := fmt.Sprintf("calls the authz service (%s); %s", strings.Join(parts, "; "), mode)
	if f.consumer != "" {
		effect += "; consumer " + f.consumer + " assumed identified (--consumer)"
	}
	return FilterStep{Filter: name, Effect: effect}, nil
}

// credential describes an Authentication from the policy (the resources
// carry only its name for API keys).
func (e *explainer) credential(name string) Credential {
	a := e.in.Policy.Authentications[name]
	switch {
	case a == nil:
		return Credential{Name: name, Kind: "?", Detail: "not in the policy snapshot"}
	case a.Spec.JWT != nil:
		return Credential{Name: name, Kind: "jwt", Detail: fmt.Sprintf("issuer %s, audiences %s", a.Spec.JWT.Issuer, strings.Join(a.Spec.JWT.Audiences, ","))}
	case a.Spec.APIKey != nil && a.Spec.APIKey.Header != "":
		return Credential{Name: name, Kind: "apiKey", Detail: "header " + a.Spec.APIKey.Header}
	case a.Spec.APIKey != nil:
		return Credential{Name: name, Kind: "apiKey", Detail: "query parameter " + a.Spec.APIKey.Query}
	case a.Spec.OAuth2Introspection != nil:
		return Credential{Name: name, Kind: "oauth2Introspection", Detail: fmt.Sprintf("bearer token introspected at %s, issuer %s", a.Spec.OAuth2Introspection.Endpoint, a.Spec.OAuth2Introspection.Issuer)}
	case a.Spec.OAuth2Login != nil:
		l := a.Spec.OAuth2Login
		at := l.AuthorizationEndpoint
		if at == "" {
			at = "the endpoint discovered for issuer " + l.Issuer
		}
		return Credential{Name: name, Kind: "oauth2Login", Detail: fmt.Sprintf("browser login at %s (Envoy's OAuth2 filter, callback %s, logout %s); requests with Authorization: Bearer skip it", at, l.Redirect(), l.Logout())}
	case a.Spec.ClientCertificate != nil:
		return Credential{Name: name, Kind: "clientCertificate", Detail: "client certificate verified by the listener (tls.clientCertificates), mapped to a Consumer's certificates"}
	}
	return Credential{Name: name, Kind: "?"}
}

// describeAuthorization adds the policy's rules of the Authorization the
// resources named.
func (e *explainer) describeAuthorization(info *RouteInfo) {
	az := info.Authorization
	if az == nil {
		return
	}
	a := e.in.Policy.Authorizations[az.Name]
	switch {
	case a == nil:
		az.Rules = "not in the policy snapshot"
	case a.Spec.Allow != nil:
		var parts []string
		if len(a.Spec.Allow.SourceCIDRs) > 0 {
			parts = append(parts, "source CIDRs "+strings.Join(a.Spec.Allow.SourceCIDRs, ", "))
		}
		if g := a.Spec.Allow.Groups; len(g) > 0 {
			s := "consumer in group " + strings.Join(g, " or ")
			if c := e.in.Policy.Consumers[e.req.Consumer]; c != nil {
				if inGroups(c, g) {
					s += fmt.Sprintf(" (consumer %s is: allowed)", c.Name)
				} else {
					s += fmt.Sprintf(" (consumer %s is not: 403)", c.Name)
				}
			}
			parts = append(parts, s)
		}
		az.Rules = "allow: " + strings.Join(parts, "; ")
	case a.Spec.Rego != "":
		az.Rules = fmt.Sprintf("Rego %s (%s), decided per request", a.Spec.Rego, a.Spec.RegoQuery())
	default:
		az.Rules = fmt.Sprintf("inline Rego (%s), decided per request", a.Spec.RegoQuery())
	}
}

func inGroups(c *policy.Consumer, groups []string) bool {
	for _, g := range c.Spec.Groups {
		for _, w := range groups {
			if g == w {
				return true
			}
		}
	}
	return false
}
