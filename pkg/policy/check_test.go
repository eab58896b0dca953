package policy

import "testing"

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
