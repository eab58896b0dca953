package explain

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	oauth2v3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/oauth2/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

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
		case hf.GetName() == wire.FilterEdgeRBAC:
			step, err = e.edgeRBAC(hf.GetName(), a, f)
		case hf.GetName() == wire.FilterEdgeLocalRateLimit:
			step, err = e.edgeLimit(hf.GetName(), a, f)
		case a.MessageIs(&headermutationv3.HeaderMutation{}):
			step, err = e.headerMutation(hf.GetName(), a, f)
		case a.MessageIs(&localrlv3.LocalRateLimit{}):
			step, err = e.localRateLimit(info, hf.GetName(), per, f)
		case a.MessageIs(&rbacv3.RBAC{}):
			step, err = e.rbac(info, hf.GetName(), per)
		case a.MessageIs(&oauth2v3.OAuth2{}):
			step, err = e.login(info, hf.GetName(), per, f)
		case a.MessageIs(&jwtv3.JwtAuthentication{}):
			step, err = e.jwt(info, hf.GetName(), a, per, f)
		case a.MessageIs(&extauthzv3.ExtAuthz{}):
			step, err = e.extAuthz(info, hf.GetName(), a, per, f)
		case a.MessageIs(&ratelimitv3.RateLimit{}):
			step, err = e.rateLimit(info, hf.GetName(), a, per, vh, rt, f)
		case isExtProcFilter(hf.GetName()) && a.MessageIs(&extprocv3.ExternalProcessor{}):
			step, err = e.extProc(info, hf.GetName(), per)
		case a.MessageIs(&transcoderv3.GrpcJsonTranscoder{}):
			step, err = e.transcoder(info, hf.GetName(), a, per, f)
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
