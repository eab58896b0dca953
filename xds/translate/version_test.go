package translate

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// TestVersionHeaders: a deprecated version's Deprecation and Sunset
// overwrite whatever the upstream sends (an upstream cannot claim a
// version is current), Link is appended to the upstream's own, and a
// successor that looks like an Envoy command (%DOWNSTREAM_REMOTE_ADDRESS%)
// is sent literally, never evaluated. Routes without a deprecation or
// sunset get none of them. The case passes Check.
func TestVersionHeaders(t *testing.T) {
	e := translateCase(t, "versioning", Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(cloneGroup(e), clasOf(e)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	headers := func(name string) map[string]*corev3.HeaderValueOption {
		out := map[string]*corev3.HeaderValueOption{}
		for _, h := range routeNamed(t, e, name).GetResponseHeadersToAdd() {
			out[h.GetHeader().GetKey()] = h
		}
		return out
	}
	h := headers("orders-v1")
	if d := h["deprecation"]; d.GetHeader().GetValue() != "@1767225600" || d.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
		t.Errorf("deprecation %v", d)
	}
	if s := h["sunset"]; s.GetHeader().GetValue() != "Thu, 31 Dec 2026 00:00:00 GMT" || s.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
		t.Errorf("sunset %v", s)
	}
	if l := h["link"]; l.GetHeader().GetValue() != `<https://api.example.com/v2/>; rel="successor-version"` || l.GetAppendAction() != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
		t.Errorf("link %v", l)
	}
	if l := headers("reports-2024")["link"].GetHeader().GetValue(); l != `</reports?version=2025-01&note=%%DOWNSTREAM_REMOTE_ADDRESS%%>; rel="successor-version"` {
		t.Errorf("reports-2024 link %q: the successor must be literal", l)
	}
	if h := headers("orders-v2"); len(h) != 0 {
		t.Errorf("orders-v2 (not deprecated) has %v", h)
	}
}
