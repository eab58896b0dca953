package explain

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
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

// RateLimitCall is one ratelimit filter's call to the rate-limit service.
type RateLimitCall struct {
	Filter string `json:"filter"`
	Domain string `json:"domain"`
	Stage  uint32 `json:"stage"`
	// FailureMode is what happens when the service cannot be reached:
	// deny (500) or allow.
	FailureMode string       `json:"failure_mode"`
	Descriptors []Descriptor `json:"descriptors"`
}

// LocalRateLimit is one local (per-Envoy) token bucket a request draws on.
type LocalRateLimit struct {
	Descriptor Descriptor `json:"descriptor"`
	Bucket     string     `json:"bucket"`
}

// perFilter returns the most specific per-filter config of a filter: the
// route's, else the virtual host's, else the route table's (Envoy:
// source/common/router/config_impl.cc, mostSpecificPerFilterConfig).
// disabled reports a FilterConfig wrapper with disabled: true.
func perFilter(name string, rc *routev3.RouteConfiguration, vh *routev3.VirtualHost, rt *routev3.Route) (cfg *anypb.Any, disabled bool, err error) {
	for _, m := range []map[string]*anypb.Any{rt.GetTypedPerFilterConfig(), vh.GetTypedPerFilterConfig(), rc.GetTypedPerFilterConfig()} {
		a, ok := m[name]
		if !ok {
			continue
		}
		fc := &routev3.FilterConfig{}
		if a.MessageIs(fc) {
			if err := a.UnmarshalTo(fc); err != nil {
				return nil, false, err
			}
			return fc.GetConfig(), fc.GetDisabled(), nil
		}
		return a, false, nil
	}
	return nil, false, nil
}

// filters walks the connection manager's HTTP filters in order and says
// what each does on this route, from its filter-level config and the
// route's per-filter config.
func (e *explainer) filters(info *RouteInfo, hcm *hcmv3.HttpConnectionManager, rc *routev3.RouteConfiguration, vh *routev3.VirtualHost, rt *routev3.Route, hr *httpRequest) error {
	// Each filter sees what the filters before it left: header changes,
	// and the dynamic metadata jwt_authn and ext_authz write (a ratelimit
	// filter placed before ext_authz would find no consumer).
	f := &facts{headers: cloneRequest(hr), unknownHeaders: map[string]bool{}, clientIP: e.req.ClientIP, consumer: e.req.Consumer, jwt: map[string]bool{}}
	for _, hf := range hcm.GetHttpFilters() {
		a := hf.GetTypedConfig()
		per, disabled, err := perFilter(hf.GetName(), rc, vh, rt)
		if err != nil {
			return fmt.Errorf("filter %s: per-route config: %w", hf.GetName(), err)
		}
		if disabled || (hf.GetDisabled() && per == nil) {
			info.Filters = append(info.Filters, FilterStep{Filter: hf.GetName(), Effect: "disabled on this route"})
			continue
		}
		var step FilterStep
		switch {
		case a.MessageIs(&headermutationv3.HeaderMutation{}):
			step, err = e.headerMutation(hf.GetName(), a, f)
		case a.MessageIs(&localrlv3.LocalRateLimit{}):
			step, err = e.localRateLimit(info, hf.GetName(), per, f)
		case a.MessageIs(&rbacv3.RBAC{}):
			step, err = e.rbac(info, hf.GetName(), per)
		case a.MessageIs(&jwtv3.JwtAuthentication{}):
			step, err = e.jwt(info, hf.GetName(), a, per, f)
		case a.MessageIs(&extauthzv3.ExtAuthz{}):
			step, err = e.extAuthz(info, hf.GetName(), a, per, f)
		case a.MessageIs(&ratelimitv3.RateLimit{}):
			step, err = e.rateLimit(info, hf.GetName(), a, per, vh, rt, f)
		case a.MessageIs(&routerv3.Router{}):
			step = FilterStep{Filter: hf.GetName(), Effect: routerEffect(info, rt)}
		default:
			step = FilterStep{Filter: hf.GetName(), Effect: "not modelled by explain (" + a.GetTypeUrl() + ")"}
		}
		if err != nil {
			return fmt.Errorf("filter %s: %w", hf.GetName(), err)
		}
		info.Filters = append(info.Filters, step)
	}
	e.describeAuthorization(info)
	return nil
}

func cloneRequest(hr *httpRequest) *httpRequest {
	c := &httpRequest{grpc: hr.grpc, headers: make(map[string][]string, len(hr.headers))}
	for k, v := range hr.headers {
		c.headers[k] = append([]string(nil), v...)
	}
	return c
}

// headerMutation applies the filter's request mutations to the headers
// later filters read (Envoy: source/common/http/header_mutation.cc:
// remove; or append/overwrite a value that is a substitution format, not
// added when it formats empty).
func (e *explainer) headerMutation(name string, a *anypb.Any, f *facts) (FilterStep, error) {
	cfg := &headermutationv3.HeaderMutation{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	var removed, set []string
	for _, m := range cfg.GetMutations().GetRequestMutations() {
		if r := m.GetRemove(); r != "" {
			r = strings.ToLower(r)
			if _, ok := f.headers.headers[r]; ok {
				removed = append(removed, r+" (sent by the client)")
			} else {
				removed = append(removed, r)
			}
			delete(f.headers.headers, r)
			delete(f.unknownHeaders, r)
			continue
		}
		hv := m.GetAppend().GetHeader()
		if hv == nil {
			continue
		}
		k := strings.ToLower(hv.GetKey())
		v, known := format(hv.GetValue(), f.headers)
		if known && v == "" {
			continue
		}
		if !known {
			f.unknownHeaders[k] = true
		}
		switch m.GetAppend().GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			f.headers.headers[k] = append(f.headers.headers[k], v)
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if _, ok := f.headers.headers[k]; !ok {
				f.headers.headers[k] = []string{v}
			}
		default:
			f.headers.headers[k] = []string{v}
		}
		set = append(set, k+": "+v)
	}
	effect := ""
	if len(removed) > 0 {
		effect = "removes " + strings.Join(removed, ", ")
	}
	if len(set) > 0 {
		if effect != "" {
			effect += "; "
		}
		effect += "sets " + strings.Join(set, ", ")
	}
	if effect == "" {
		effect = "nothing"
	}
	return FilterStep{Filter: name, Effect: effect}, nil
}

// format evaluates a header value as Envoy's substitution formatter would,
// for the commands the translator emits: "%%" is '%', and %PATH(NQ:PATH)%
// is :path cut at the first '?' (Envoy: source/common/formatter/
// http_specific_formatter.cc, PathFormatter). Other commands are not
// known offline.
func format(f string, hr *httpRequest) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		if strings.HasPrefix(f[i:], "%%") {
			b.WriteByte('%')
			i++
			continue
		}
		if strings.HasPrefix(f[i:], "%PATH(NQ:PATH)%") {
			p, _, _ := strings.Cut(hr.path(), "?")
			b.WriteString(p)
			i += len("%PATH(NQ:PATH)%") - 1
			continue
		}
		return "(" + f + ")", false
	}
	return b.String(), true
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

// rateLimit lists the descriptors one ratelimit filter sends: the route's
// rate_limits of the filter's stage, then the virtual host's when the
// route includes them or has none (Envoy: source/extensions/filters/http/
// ratelimit/ratelimit.cc, populateRateLimitDescriptors with
// VhRateLimitOptions; source/common/router/config_impl.cc,
// include_vh_rate_limits). No descriptor: no call.
func (e *explainer) rateLimit(info *RouteInfo, name string, a, per *anypb.Any, vh *routev3.VirtualHost, rt *routev3.Route, f *facts) (FilterStep, error) {
	cfg := &ratelimitv3.RateLimit{}
	if err := a.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	if per != nil {
		return FilterStep{Filter: name, Effect: "per-route config (not modelled)"}, nil
	}
	call := RateLimitCall{Filter: name, Domain: cfg.GetDomain(), Stage: cfg.GetStage(), FailureMode: "allow"}
	if cfg.GetFailureModeDeny() {
		call.FailureMode = "deny"
	}
	ra := rt.GetRoute()
	add := func(from string, rls []*routev3.RateLimit) error {
		for _, rl := range rls {
			if rl.GetStage().GetValue() != cfg.GetStage() || rl.GetDisableKey() != "" {
				continue
			}
			d, err := f.populate(from, rl.GetActions(), e.re)
			if err != nil {
				return err
			}
			d.Limit = e.limitOf(d)
			call.Descriptors = append(call.Descriptors, d)
		}
		return nil
	}
	if err := add("route", ra.GetRateLimits()); err != nil {
		return FilterStep{}, err
	}
	if ra.GetIncludeVhRateLimits().GetValue() || len(ra.GetRateLimits()) == 0 {
		if err := add("virtual host", vh.GetRateLimits()); err != nil {
			return FilterStep{}, err
		}
	}
	sent := 0
	for _, d := range call.Descriptors {
		if !strings.HasPrefix(d.Sent, "no") {
			sent++
		}
	}
	step := FilterStep{Filter: name}
	switch {
	case len(call.Descriptors) == 0:
		step.Effect = "no descriptors on this route: no call"
	case sent == 0:
		step.Effect = "every descriptor is left out for this request: no call"
		info.RateLimits = append(info.RateLimits, call)
	default:
		step.Effect = fmt.Sprintf("calls the rate-limit service (domain %s) with %d descriptor(s); unreachable service: %s; over a limit: 429",
			call.Domain, sent, map[string]string{"deny": "500 (fails closed)", "allow": "allowed (fails open)"}[call.FailureMode])
		info.RateLimits = append(info.RateLimits, call)
	}
	return step, nil
}

// limitOf names the policy limit a descriptor counts against, from its
// first entry (ENVOY-MAPPING.md: (ratelimit, "<name>#<i>") or (plan,
// consumer)).
func (e *explainer) limitOf(d Descriptor) string {
	if len(d.Entries) == 0 {
		return ""
	}
	first := d.Entries[0]
	switch first.Key {
	case wire.DescRateLimit:
		name, idx, ok := strings.Cut(first.Value, "#")
		rl := e.in.Policy.RateLimits[name]
		if !ok || rl == nil {
			return "RateLimit/" + first.Value
		}
		var i int
		if _, err := fmt.Sscan(idx, &i); err != nil || i < 0 || i >= len(rl.Spec.Limits) {
			return "RateLimit/" + first.Value
		}
		l := rl.Spec.Limits[i]
		s := fmt.Sprintf("RateLimit/%s limit #%d: %d per %s", name, i, l.Requests, l.Per)
		if rl.Spec.Shadow {
			s += " (shadow: counted, never rejected)"
		}
		return s
	case wire.DescPlan:
		c := e.in.Policy.Consumers[first.Value]
		if c == nil || c.Spec.Plan == "" {
			return "the consumer's Plan (none known for " + first.Value + ")"
		}
		return "Plan/" + c.Spec.Plan + " of Consumer/" + c.Name
	}
	return ""
}

// localRateLimit lists the local token buckets the request draws on: the
// descriptors of the per-route config's rate_limits, each matched against
// the configured descriptors (an entry without a value matches any value,
// one bucket per value) (Envoy: source/extensions/filters/http/
// local_ratelimit/local_ratelimit.cc; source/extensions/filters/common/
// local_ratelimit/local_ratelimit_impl.cc).
func (e *explainer) localRateLimit(info *RouteInfo, name string, per *anypb.Any, f *facts) (FilterStep, error) {
	if per == nil {
		return FilterStep{Filter: name, Effect: "no limits on this route"}, nil
	}
	cfg := &localrlv3.LocalRateLimit{}
	if err := per.UnmarshalTo(cfg); err != nil {
		return FilterStep{}, err
	}
	n := 0
	for _, rl := range cfg.GetRateLimits() {
		d, err := f.populate("route", rl.GetActions(), e.re)
		if err != nil {
			return FilterStep{}, err
		}
		d.Limit = e.limitOf(d)
		lr := LocalRateLimit{Descriptor: d, Bucket: "no configured descriptor matches: the default bucket"}
		for _, cd := range cfg.GetDescriptors() {
			if !localMatch(cd.GetEntries(), d.Entries) {
				continue
			}
			tb := cd.GetTokenBucket()
			lr.Bucket = fmt.Sprintf("%d requests per %s per Envoy", tb.GetMaxTokens(), dur(tb.GetFillInterval()))
			if cd.GetShadowMode() {
				lr.Bucket += " (shadow: counted, never rejected)"
			}
			break
		}
		if !strings.HasPrefix(d.Sent, "no") {
			n++
		}
		info.LocalRateLimits = append(info.LocalRateLimits, lr)
	}
	return FilterStep{Filter: name, Effect: fmt.Sprintf("%d local token bucket(s) apply; an empty bucket is 429", n)}, nil
}

type localEntry interface {
	GetKey() string
	GetValue() string
}

func localMatch[T localEntry](want []T, got []Entry) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if w.GetKey() != got[i].Key || (w.GetValue() != "" && w.GetValue() != got[i].Value) {
			return false
		}
	}
	return true
}

// routerEffect describes the router filter's part: forwarding, with the
// route's header changes.
func routerEffect(info *RouteInfo, rt *routev3.Route) string {
	if info.Action != "forward" {
		return info.Action
	}
	s := "forwards to the backends"
	if rm := rt.GetRequestHeadersToRemove(); len(rm) > 0 {
		s += "; removes " + strings.Join(rm, ", ") + " for the upstream"
	}
	var add []string
	for _, h := range rt.GetRequestHeadersToAdd() {
		add = append(add, h.GetHeader().GetKey())
	}
	if len(add) > 0 {
		s += "; sets " + strings.Join(add, ", ")
	}
	return s
}
