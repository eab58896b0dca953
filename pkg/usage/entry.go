package usage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// maxLabel bounds every name an entry contributes (route, service,
// consumer, gateway): policy names are at most 63 bytes, so anything longer
// did not come from a gatehouse-configured Envoy.
const maxLabel = 253

// serviceClusterPrefix is how the translator names a Service's cluster
// (xds/translate: clusterName); other clusters are gatehouse's own.
const serviceClusterPrefix = "svc/"

// Quota headers Envoy's ratelimit filter adds with enable_x_ratelimit_headers
// (DRAFT_VERSION_03): "x-ratelimit-limit: 10, 10;w=60" names the closest
// limit first, "x-ratelimit-remaining: 3" (Envoy:
// source/extensions/filters/http/ratelimit/ratelimit_headers.cc). They reach
// the ALS only when the access log lists them in
// additional_response_headers_to_log.
const (
	headerLimit     = "x-ratelimit-limit"
	headerRemaining = "x-ratelimit-remaining"
)

// record is what one HTTP access-log entry contributes.
type record struct {
	gateway, route, service, consumer string
	class                             string // code class: 1xx..5xx, or "none" without a response
	duration                          time.Duration
	hasDuration                       bool
	quotaUsed                         float64 // 0..1, when hasQuota
	hasQuota                          bool
}

// malformed is an entry or message no Envoy configured by gatehouse sends.
type malformed struct {
	reason string // the metric label
	detail string
}

func (m *malformed) Error() string { return m.reason + ": " + m.detail }

func bad(reason, format string, args ...any) *malformed {
	return &malformed{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// parseEntry turns one entry into a record. Where each field comes from:
//   - route: common_properties.route_name, the Route object's name (the
//     translator names every Envoy route after it);
//   - service: common_properties.upstream_cluster "svc/<service>";
//   - consumer: the dynamic metadata gatehouse's ext_authz service sets,
//     filter_metadata[wire.ConsumerMetadataNamespace][wire.ConsumerMetadataKey]
//     (Envoy copies the request's dynamic metadata into
//     common_properties.metadata: Envoy:
//     source/extensions/access_loggers/grpc/grpc_access_log_utils.cc);
//   - latency: common_properties.duration, else time_to_last_downstream_tx_byte.
func parseEntry(gateway string, e *accesslogv3.HTTPAccessLogEntry) (record, *malformed) {
	c := e.GetCommonProperties()
	if c == nil {
		return record{}, bad("no_common_properties", "an HTTP entry without common_properties")
	}
	r := record{gateway: gateway, route: c.GetRouteName()}
	if cl := c.GetUpstreamCluster(); strings.HasPrefix(cl, serviceClusterPrefix) {
		r.service = cl[len(serviceClusterPrefix):]
	}
	if f := c.GetMetadata().GetFilterMetadata()[wire.ConsumerMetadataNamespace]; f != nil {
		r.consumer = f.GetFields()[wire.ConsumerMetadataKey].GetStringValue()
	}
	for _, v := range []struct{ field, value string }{{"route_name", r.route}, {"upstream_cluster", r.service}, {"consumer metadata", r.consumer}} {
		if len(v.value) > maxLabel || !utf8.ValidString(v.value) {
			return record{}, bad("bad_label", "%s: longer than %d bytes or not UTF-8", v.field, maxLabel)
		}
	}
	switch code := e.GetResponse().GetResponseCode(); {
	case code == nil || code.GetValue() == 0: // no response was sent (e.g. the client reset)
		r.class = "none"
	case code.GetValue() >= 100 && code.GetValue() <= 599:
		r.class = strconv.Itoa(int(code.GetValue()/100)) + "xx"
	default:
		return record{}, bad("bad_response_code", "response_code %d is not an HTTP status", code.GetValue())
	}
	d := c.GetDuration()
	if d == nil {
		d = c.GetTimeToLastDownstreamTxByte()
	}
	if d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
			return record{}, bad("bad_duration", "duration %v is negative or out of range", d)
		}
		r.duration, r.hasDuration = d.AsDuration(), true
	}
	r.quotaUsed, r.hasQuota = quota(e.GetResponse().GetResponseHeaders())
	return r, nil
}

// quota is the share of the closest limit used, from the x-ratelimit
// headers when the entry carries them. Headers that do not parse are
// ignored: they are informational, and a user may log other headers of the
// same name.
func quota(h map[string]string) (float64, bool) {
	ls, rs := h[headerLimit], h[headerRemaining]
	if ls == "" || rs == "" {
		return 0, false
	}
	if i := strings.IndexAny(ls, ",;"); i >= 0 {
		ls = ls[:i]
	}
	limit, err1 := strconv.ParseUint(strings.TrimSpace(ls), 10, 64)
	remaining, err2 := strconv.ParseUint(strings.TrimSpace(rs), 10, 64)
	if err1 != nil || err2 != nil || limit == 0 || remaining > limit {
		return 0, false
	}
	return 1 - float64(remaining)/float64(limit), true
}
