package translate

import (
	"strings"
	"time"

	commonratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// jwtProviders: every provider a requirement names is configured.
// Envoy: source/extensions/filters/http/jwt_authn/verifier.cc
// (innerCreate: "Required provider ['{}'] is not configured.").
func (c *checker) jwtProviders(where string, m *jwtv3.JwtAuthentication) {
	var req func(what string, r *jwtv3.JwtRequirement)
	req = func(what string, r *jwtv3.JwtRequirement) {
		name := r.GetProviderName()
		if pa := r.GetProviderAndAudiences(); pa != nil {
			name = pa.GetProviderName()
		}
		if name != "" && m.GetProviders()[name] == nil {
			c.fail("%s: %s names provider %q, which is not configured", where, what, name)
		}
		for _, sub := range r.GetRequiresAny().GetRequirements() {
			req(what, sub)
		}
		for _, sub := range r.GetRequiresAll().GetRequirements() {
			req(what, sub)
		}
	}
	for _, n := range sortedKeys(m.GetRequirementMap()) {
		req("requirement "+n, m.GetRequirementMap()[n])
	}
	for _, r := range m.GetRules() {
		req("rule", r.GetRequires())
	}
	for _, n := range sortedKeys(m.GetProviders()) {
		c.jwksRetry(where+": provider "+n, m.GetProviders()[n].GetRemoteJwks())
	}
}

// jwksRetry: a remote JWKS retry backoff has a base interval and a max
// interval no shorter than it. Envoy:
// source/extensions/filters/http/jwt_authn/jwks_cache.cc calls
// Http::Utility::validateCoreRetryPolicy (source/common/http/utility.cc:
// base_interval is required, "max_interval must be greater than or equal
// to the base_interval").
func (c *checker) jwksRetry(where string, r *jwtv3.RemoteJwks) {
	b := r.GetRetryPolicy().GetRetryBackOff()
	if b == nil {
		return
	}
	base := b.GetBaseInterval()
	if base == nil {
		c.fail("%s: remote_jwks retry_back_off needs a base_interval", where)
		return
	}
	if mx := b.GetMaxInterval(); mx != nil && mx.AsDuration().Milliseconds() < base.AsDuration().Milliseconds() {
		c.fail("%s: remote_jwks retry_back_off max_interval %v is shorter than base_interval %v", where, mx.AsDuration(), base.AsDuration())
	}
}

// minFillInterval is the shortest token bucket fill interval Envoy accepts.
const minFillInterval = 50 * time.Millisecond

// localRateLimit: a token bucket that holds tokens refills at least 50ms
// apart, for the default bucket and each descriptor's (whose fill
// interval defaults to 0), and descriptors are unique.
// Envoy: source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc
// (LocalRateLimiterImpl: "local rate limit token bucket fill timer must be
// >= 50ms", "local rate limit descriptor token bucket fill timer must be >=
// 50ms", "duplicate descriptor in the local rate descriptor").
func (c *checker) localRateLimit(where string, a *anypb.Any) {
	if c.localRLDone[string(a.GetValue())] {
		return
	}
	if c.localRLDone == nil {
		c.localRLDone = map[string]bool{}
	}
	c.localRLDone[string(a.GetValue())] = true
	m := &localratelimitv3.LocalRateLimit{}
	if !c.unmarshal(where, a, m) {
		return
	}
	if tb := m.GetTokenBucket(); tb != nil && tb.GetMaxTokens() != 0 && tb.GetFillInterval().AsDuration() > 0 && tb.GetFillInterval().AsDuration() < minFillInterval {
		c.fail("%s: local rate limit token bucket fills every %s, under Envoy's 50ms minimum", where, tb.GetFillInterval().AsDuration())
	}
	seen := map[string]bool{}
	for _, d := range m.GetDescriptors() {
		if tb := d.GetTokenBucket(); tb.GetMaxTokens() != 0 && tb.GetFillInterval().AsDuration() < minFillInterval {
			c.fail("%s: local rate limit descriptor %s fills every %s, under Envoy's 50ms minimum", where, descriptorKey(d.GetEntries()), tb.GetFillInterval().AsDuration())
		}
		k := descriptorKey(d.GetEntries())
		if seen[k] {
			c.fail("%s: local rate limit descriptor %s twice (Envoy refuses duplicates)", where, k)
		}
		seen[k] = true
	}
}

func descriptorKey(es []*commonratelimitv3.RateLimitDescriptor_Entry) string {
	k := ""
	for _, e := range es {
		k += "(" + e.GetKey() + "=" + e.GetValue() + ")"
	}
	return k
}

// hcmRules: what Envoy refuses when it builds a connection manager.
// Envoy: source/extensions/filters/network/http_connection_manager/config.cc
// (HttpConnectionManagerConfig: "Only one of `strip_matching_host_port` or
// `strip_any_host_port` can be set", "max_response_headers_kb cannot be set
// on http_connection_manager", "Original IP detection extensions and
// use_remote_address/xff_num_trusted_hops may not be mixed", "Only one of
// flush_access_log_on_new_request/access_log_flush_interval or
// access_log_options can be specified", "multiple upgrade configs with the
// same name", "HTTP/3 codec configured on non-QUIC listener").
func (c *checker) hcmRules(where string, h *hcmv3.HttpConnectionManager, quic bool) {
	if h.GetStripAnyHostPort() && h.GetStripMatchingHostPort() {
		c.fail("%s: strip_any_host_port and strip_matching_host_port are both set", where)
	}
	if h.GetCommonHttpProtocolOptions().GetMaxResponseHeadersKb() != nil {
		c.fail("%s: max_response_headers_kb cannot be set on a connection manager", where)
	}
	if len(h.GetOriginalIpDetectionExtensions()) > 0 && (h.GetUseRemoteAddress().GetValue() || h.GetXffNumTrustedHops() > 0) {
		c.fail("%s: original IP detection extensions cannot be mixed with use_remote_address or xff_num_trusted_hops", where)
	}
	for _, e := range h.GetOriginalIpDetectionExtensions() {
		c.ipDetection(where+" original IP detection "+e.GetName(), e.GetTypedConfig())
	}
	if h.GetAccessLogOptions() != nil && (h.GetFlushAccessLogOnNewRequest() || h.GetAccessLogFlushInterval() != nil) { //nolint:staticcheck // Envoy still reads the deprecated fields
		c.fail("%s: access_log_options cannot be mixed with the deprecated access log flush fields", where)
	}
	upgrades := map[string]bool{}
	for _, u := range h.GetUpgradeConfigs() {
		t := strings.ToLower(u.GetUpgradeType())
		if upgrades[t] {
			c.fail("%s: upgrade type %q twice (Envoy refuses a duplicate upgrade)", where, u.GetUpgradeType())
		}
		upgrades[t] = true
		// Gatehouse: CONNECT on the connection manager would let every
		// route of the listener tunnel (upgrades.go).
		if t == "connect" && (u.GetEnabled() == nil || u.GetEnabled().GetValue()) {
			c.fail("%s: CONNECT is enabled on the connection manager; only a CONNECT route may enable it", where)
		}
	}
	if (h.GetCodecType() == hcmv3.HttpConnectionManager_HTTP3) != quic {
		c.fail("%s: codec %s on a listener that is%s QUIC", where, h.GetCodecType(), map[bool]string{true: "", false: " not"}[quic])
	}
}
