package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJWKSCacheDefault: a remote JWKS without cacheDuration is cached for
// the default, not for 0 (no caching: a fetch per token).
func TestJWKSCacheDefault(t *testing.T) {
	if got := (&JWKS{}).Cache(); got != DefaultJWKSCacheDuration {
		t.Errorf("unset: %s, want %s", got, DefaultJWKSCacheDuration)
	}
	if got := (&JWKS{CacheDuration: Duration(time.Second)}).Cache(); got != time.Second {
		t.Errorf("1s: %s", got)
	}
}

// TestGatewayCompressionSettings: a Gateway's compression default is what
// the compressor gets, the omitted fields filled in; without one (or
// without a Gateway) the built-in settings.
func TestGatewayCompressionSettings(t *testing.T) {
	builtin := []string{CompressBrotli, CompressGzip}
	for _, g := range []*Gateway{nil, {}, {Spec: GatewaySpec{Defaults: &GatewayDefaults{}}}} {
		if c := GatewayCompression(g); !slices.Equal(c.Algorithms, builtin) || c.MinBytes != DefaultCompressionMinBytes {
			t.Errorf("no default (%+v): %+v", g, c)
		}
	}
	g := &Gateway{Spec: GatewaySpec{Defaults: &GatewayDefaults{Compression: &Compression{Algorithms: []string{CompressGzip}, MinBytes: 100}}}}
	if c := GatewayCompression(g); !slices.Equal(c.Algorithms, []string{CompressGzip}) || c.MinBytes != 100 {
		t.Errorf("the Gateway's default not applied: %+v", c)
	}
}

// TestRemoteAddressMasks: each mask goes to its own address family.
func TestRemoteAddressMasks(t *testing.T) {
	for _, tc := range []struct {
		key    string
		v4, v6 int
	}{
		{"remote_address", DefaultIPv4Mask, DefaultIPv6Mask},
		{"remote_address:v4=24", 24, DefaultIPv6Mask},
		{"remote_address:v6=48", DefaultIPv4Mask, 48},
		{"remote_address:v6=56,v4=16", 16, 56},
		{"remote_address:v4=1,v6=1", 1, 1},
		{"remote_address:v4=32,v6=128", 32, 128},
	} {
		v4, v6, err := RemoteAddressMasks(tc.key)
		if err != nil || v4 != tc.v4 || v6 != tc.v6 {
			t.Errorf("%s: v4=%d v6=%d %v, want v4=%d v6=%d", tc.key, v4, v6, err, tc.v4, tc.v6)
		}
	}
	// Each refusal names what is wrong: past either end of a family's
	// range, a part that is no mask, a family given twice.
	for key, want := range map[string]string{
		"remote_address:v4=0":         "v4=0 is out of range; 1..32",
		"remote_address:v4=33":        "v4=33 is out of range; 1..32",
		"remote_address:v6=0":         "v6=0 is out of range; 1..128",
		"remote_address:v6=129":       "v6=129 is out of range; 1..128",
		"remote_address:v6=x":         "v6=x is out of range; 1..128",
		"remote_address:v4":           `"v4" is not a mask`,
		"remote_address:v5=8":         `"v5=8" is not a mask`,
		"remote_address:v4=8,v4=16":   "v4 given twice",
		"remote_address:v4=24,v6=48,": `"" is not a mask`,
	} {
		if _, _, err := RemoteAddressMasks(key); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", key, err, want)
		}
	}
}

// TestAccessDefaults: the defaults docs/oauth2.md promises (an omitted
// cacheTTL, negativeCacheTTL, refreshInterval or cacheDuration); a zero
// there would cache nothing and fetch on every request or token.
func TestAccessDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"introspection cacheTTL", DefaultIntrospectionCacheTTL, 60 * time.Second},
		{"introspection negativeCacheTTL", DefaultIntrospectionNegativeTTL, 10 * time.Second},
		{"discovery refreshInterval", DefaultDiscoveryRefresh, 5 * time.Minute},
		{"JWKS cacheDuration", DefaultJWKSCacheDuration, 5 * time.Minute},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: default %s, docs say %s", tc.name, tc.got, tc.want)
		}
	}
}
