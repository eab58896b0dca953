package translate

import (
	"net/http"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// versionHeaders adds a deprecated version's response headers to out:
//
//	Deprecation: @<unix seconds>   (RFC 9745: a Structured Fields Date)
//	Sunset: <HTTP-date>            (RFC 8594)
//	Link: <successor>; rel="successor-version"   (RFC 5829)
//
// Deprecation and Sunset overwrite what the upstream sent (the policy is
// the authority on the gateway's API); Link is appended, as an upstream's
// own links stay valid. The values are literal (literalHeaderValue).
func versionHeaders(out *routev3.Route, v *policy.RouteVersion) {
	if v == nil {
		return
	}
	add := func(k, val string, action corev3.HeaderValueOption_HeaderAppendAction) {
		out.ResponseHeadersToAdd = append(out.ResponseHeadersToAdd, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: k, Value: literalHeaderValue(val)},
			AppendAction: action,
		})
	}
	if !v.DeprecatedAt.IsZero() {
		add(policy.HeaderDeprecation, "@"+strconv.FormatInt(v.DeprecatedAt.Unix(), 10), corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
	}
	if !v.SunsetAt.IsZero() {
		add(policy.HeaderSunset, v.SunsetAt.UTC().Format(http.TimeFormat), corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
	}
	if v.Successor != "" && (!v.DeprecatedAt.IsZero() || !v.SunsetAt.IsZero()) {
		add(policy.HeaderLink, "<"+v.Successor+`>; rel="successor-version"`, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD)
	}
}
