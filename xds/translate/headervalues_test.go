package translate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// envoyHeaderText is what Envoy sends for a header value holding no
// command: its substitution parser turns "%%" into '%' and refuses any
// other '%' (source/common/formatter/substitution_formatter.cc,
// SubstitutionFormatParser::parse). ok is false where Envoy would read a
// command or refuse the value.
func envoyHeaderText(v string) (text string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		return "", false
	}
	return b.String(), true
}

func TestLiteralHeaderValue(t *testing.T) {
	values := []string{
		"", "no-store", "50%", "100%%", "%", "%%%", "%DOWNSTREAM_REMOTE_ADDRESS%",
		"%REQ(authorization)%", "a%20b", "%START_TIME(%s)%", "%PROTOCOL", "x%",
	}
	// Every string of up to 5 characters over the parser's special
	// characters: no arrangement of '%' survives as a command.
	var gen func(prefix string)
	gen = func(prefix string) {
		values = append(values, prefix)
		if len(prefix) == 5 {
			return
		}
		for _, c := range []string{"%", "A", "(", ")", ":"} {
			gen(prefix + c)
		}
	}
	gen("")
	for _, v := range values {
		got := literalHeaderValue(v)
		if err := literalFormat(got); err != nil {
			t.Errorf("%q -> %q: Check refuses it: %v", v, got, err)
		}
		if text, ok := envoyHeaderText(got); !ok || text != v {
			t.Errorf("%q -> %q: Envoy sends %q (literal: %v), want the policy's text", v, got, text, ok)
		}
	}
}

// A Route header value with '%' passes policy validation; Envoy refuses a
// bare '%' and runs "%NAME%" as a command. Before the translator escaped
// them, Check refused the Route and, with it, the whole Gateway's build.
func TestPercentInRouteHeadersTranslatesLiterally(t *testing.T) {
	src := withDefaults("") + `---
kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: web}]
  headers:
    request:
      set: {x-discount: "50%", x-addr: "%DOWNSTREAM_REMOTE_ADDRESS%"}
      add: {x-token: "%REQ(authorization)%"}
    response:
      set: {x-progress: "100%%"}
      add: {x-bare: "%"}
`
	// translateYAML fails on any Translate error, Check's included.
	g := translateYAML(t, src)[GroupKey{"gw", ClientEnvoy}]
	if err := Check(g, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := map[string]string{
		"x-discount": "50%", "x-addr": "%DOWNSTREAM_REMOTE_ADDRESS%", "x-token": "%REQ(authorization)%",
		"x-progress": "100%%", "x-bare": "%",
	}
	r := routeNamed(t, g, "r")
	got := map[string]string{}
	for _, hs := range [][]*corev3.HeaderValueOption{r.GetRequestHeadersToAdd(), r.GetResponseHeadersToAdd()} {
		for _, h := range hs {
			text, ok := envoyHeaderText(h.GetHeader().GetValue())
			if !ok {
				t.Errorf("header %s: Envoy reads %q as a command or refuses it", h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
			got[h.GetHeader().GetKey()] = text
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s: Envoy would send %q, want the policy's %q", k, got[k], v)
		}
	}
}
