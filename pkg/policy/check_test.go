package policy

import (
	"strings"
	"testing"
)

func TestHostsOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"", "api.example.com", true},
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "www.example.com", false},
		{"*.example.com", "api.example.com", true},
		{"api.example.com", "*.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "*.a.example.com", true},
		{"*.a.example.com", "*.example.com", true},
		{"*.example.com", "*.example.org", false},
		{"*.example.com", "badexample.com", false},
	}
	for _, c := range cases {
		if got := hostsOverlap(c.a, c.b); got != c.want {
			t.Errorf("hostsOverlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestHostnameRules(t *testing.T) {
	for h, want := range map[string]bool{
		"api.example.com": true, "a": true, "a-b.c": true, "-a.com": false, "a-.com": false,
		"API.example.com": false, "a..b": false, "a.com:8080": false, "": false, "a_b.com": false,
		// The ends of each character range, and the length limits (RFC 1035:
		// 63 per label, 253 in all) at and one past the bound.
		"z.z9": true, "0.09": true, "9z0a": true, "a`.com": false, "a{.com": false, "a/.com": false,
		strings.Repeat("a", 63) + ".com":                                         true,
		strings.Repeat("a", 64) + ".com":                                         false,
		strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 61): true,
		strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 62): false,
	} {
		if got := dnsName(h); got != want {
			t.Errorf("dnsName(%q) = %v, want %v", h, got, want)
		}
	}
	for h, want := range map[string]bool{"*.example.com": true, "*": false, "*.": false, "a.*.com": false, "**.com": false} {
		if got := wildcardName(h); got != want {
			t.Errorf("wildcardName(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestHeaderNameTokenChars holds RFC 9110's tchar set at the ends of each
// range and at the first and last of its punctuation: a name outside it
// is refused at load rather than sent to Envoy, which rejects the config.
func TestHeaderNameTokenChars(t *testing.T) {
	for h, want := range map[string]bool{
		"x-a": true, "x-z": true, "X-A": true, "X-Z": true, "x0": true, "x9": true,
		"!x": true, "x~": true, "x|y": true, "x.y_z": true,
		"": false, "x y": false, "x:y": false, "x@": false, "x[": false, "x`y": true, "x{": false,
		"x/": false, "x\"": false, "x,y": false, "x\x7f": false, "x\xe9": false,
	} {
		if got := headerName(h); got != want {
			t.Errorf("headerName(%q) = %v, want %v", h, got, want)
		}
	}
}
