package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestGatewayBoundsLoad: the ranges TestBadInputs refuses past are
// inclusive: a listener port of 1 or 65535, and maxRequestHeadersKB of 1
// or its maximum, load as written.
func TestGatewayBoundsLoad(t *testing.T) {
	for _, c := range []struct{ port, headersKB int }{{1, 1}, {65535, maxRequestHeadersKB}} {
		src := fmt.Sprintf("kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: %d, protocol: HTTP}]\n  limits: {maxRequestHeadersKB: %d}\n", c.port, c.headersKB)
		s := Load(testFS(t, map[string]string{"g.yaml": src}), nil)
		if errs := s.Errors(); len(errs) > 0 {
			t.Fatalf("port %d, %d KB: %s", c.port, c.headersKB, strings.Join(errs, "\n"))
		}
		g := s.Gateways["g"]
		if g.Spec.Listeners[0].Port != c.port || g.Spec.Limits.MaxRequestHeadersKB != c.headersKB {
			t.Errorf("loaded %+v %+v", g.Spec.Listeners[0], g.Spec.Limits)
		}
	}
}

// A Gateway's tracing at the edges of its bounds loads: a sample percent
// of 0, 100 and the finest step (Envoy's FractionalPercent per million),
// 32 tags, a tag name of 64 characters of every allowed class, a value of
// 256 bytes. One past each is refused (TestBadTracing).
func TestTracingBoundsLoad(t *testing.T) {
	gw := "kind: Gateway\nname: g\nspec:\n  listeners: [{name: a, port: 8080, protocol: HTTP}]\n  tracing:\n    provider: zipkin\n    service: a\n"
	name := "azAZ09._-" + strings.Repeat("m", 64-9)
	cases := map[string]string{
		"32 tags":                      gw + "    tags: {" + tracingTags(maxTracingTags) + "}\n",
		"64-char name, 256-byte value": gw + "    tags: {\"" + name + "\": " + strings.Repeat("v", 256) + "}\n",
	}
	for _, p := range []string{"0", "100", "0.0001", "99.9999", "12.5"} {
		cases["sample "+p] = gw + "    samplePercent: " + p + "\n"
	}
	runAcceptedCases(t, cases)
	s := Load(testFS(t, map[string]string{"r.yaml": gw + "    samplePercent: 0.0001\n"}), nil)
	if g := s.Gateways["g"]; g == nil || g.Spec.Tracing.SamplePercent == nil || *g.Spec.Tracing.SamplePercent != 0.0001 {
		t.Errorf("sample percent not loaded: %q", s.Errors())
	}
}

// A tag name is 1 to 64 of ASCII letters, digits, '.', '_' and '-': the
// characters just outside each range are refused.
func TestTracingTagNameChars(t *testing.T) {
	for _, k := range []string{"a", "z", "A", "Z", "0", "9", ".", "_", "-", strings.Repeat("x", 64)} {
		if !validTagName(k) {
			t.Errorf("%q refused", k)
		}
	}
	for _, k := range []string{"", "`", "{", "@", "[", "/", ":", " ", "é", "a/b", strings.Repeat("x", 65)} {
		if validTagName(k) {
			t.Errorf("%q accepted", k)
		}
	}
}
