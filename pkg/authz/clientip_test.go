package authz

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const sourcePolicy = `package envoy.authz
default allow := false
allow if input.attributes.source.address.socketAddress.address == "203.0.113.9"`

// TestDetectedClientIsSource: on a route of a Gateway with clientIP, Rego's
// input.attributes.source is the address the Gateway detected (the header
// its first filter sets); elsewhere the header means nothing, whatever a
// client puts in it.
func TestDetectedClientIsSource(t *testing.T) {
	cfg := testConfig()
	cfg.Policies["by-source"] = Policy{Modules: map[string]string{"p.rego": sourcePolicy}}
	s, logs := newTestService(t, cfg)
	withDetection := func() map[string]string {
		e := ext("r", "", "by-source")
		e[wire.CtxClientIPHeader] = "true"
		return e
	}
	tests := []struct {
		name   string
		ext    map[string]string
		header string // wire.ClientIPHeader's value, "" for none
		status int
	}{
		{"detected client allowed", withDetection(), "203.0.113.9", 200},
		{"detected other client denied", withDetection(), "198.51.100.1", 403},
		// The source stays the connection's (127.0.0.1 in req) for a
		// Gateway without clientIP, even with a client-sent header.
		{"header ignored without clientIP", ext("r", "", "by-source"), "203.0.113.9", 403},
		{"not an address keeps the connection", withDetection(), "203.0.113.9, 10.0.0.1", 403},
		{"zone refused", withDetection(), "fe80::1%eth0", 403},
		{"missing header keeps the connection", withDetection(), "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h[wire.ClientIPHeader] = tc.header
			}
			r := req{headers: h, ext: tc.ext}.build(t)
			r.Attributes.ContextExtensions[wire.CtxAllowAnonymous] = "true"
			if o := check(t, s, r); o.status != tc.status {
				t.Errorf("status %d, want %d (%v)", o.status, tc.status, logs.last(t).Reasons)
			}
		})
	}
}

// TestDetectedClientKeepsPrincipalAndPort: only the address changes.
func TestDetectedClientKeepsPrincipalAndPort(t *testing.T) {
	e := ext("r", "", "")
	e[wire.CtxClientIPHeader] = "true"
	r := req{headers: map[string]string{wire.ClientIPHeader: "2001:DB8::9"}, ext: e}.build(t)
	r.Attributes.Source.Principal = "spiffe://lb"
	useDetectedClient(r)
	sa := r.GetAttributes().GetSource().GetAddress().GetSocketAddress()
	if sa.GetAddress() != "2001:db8::9" || sa.GetPortValue() != 51234 || r.GetAttributes().GetSource().GetPrincipal() != "spiffe://lb" {
		t.Errorf("source = %v", r.GetAttributes().GetSource())
	}
}
