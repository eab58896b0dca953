package policy

import (
	"testing"
	"time"
)

// TestBadDNSDiscovery: each bad dns discovery names the file line and
// field, and says what is allowed.
func TestBadDNSDiscovery(t *testing.T) {
	dns := service + "  discovery:\n    dns:\n"
	runBadCases(t, []badCase{
		{"dns and static", service + "  discovery:\n    dns: {name: api.example, port: 80}\n    static: [{address: 127.0.0.1, port: 1}]\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"dns and consul", service + "  discovery:\n    consul: {service: x}\n    dns: {name: api.example, port: 80}\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"no name", dns + "      port: 80\n",
			5, "Service/s", "spec.discovery.dns.name", `required: the host name to resolve`},
		{"ip address", dns + "      name: 10.0.0.1\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `"10.0.0.1" is an IP address, not a host name: list it under discovery.static`},
		{"ipv6 address", dns + "      name: \"::1\"\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `"::1" is an IP address`},
		{"name with port", dns + "      name: api.example:80\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `"api.example:80" is not a host name`},
		{"url", dns + "      name: http://api.example\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `"http://api.example" is not a host name`},
		{"wildcard", dns + "      name: \"*.example\"\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `is not a host name`},
		{"malformed ipv4", dns + "      name: 10.0.0.010\n      port: 80\n",
			6, "Service/s", "spec.discovery.dns.name", `"10.0.0.010" is not a host name`},
		{"missing port", dns + "      name: api.example\n",
			5, "Service/s", "spec.discovery.dns.port", `required: the port of the resolved addresses`},
		{"port out of range", dns + "      name: api.example\n      port: 70000\n",
			7, "Service/s", "spec.discovery.dns.port", `70000 is out of range`},
		{"bad type", dns + "      name: api.example\n      port: 80\n      type: srv\n",
			8, "Service/s", "spec.discovery.dns.type", `"srv" is not a DNS discovery type; one of strict`},
		{"bad family", dns + "      name: api.example\n      port: 80\n      lookupFamily: ipv4\n",
			8, "Service/s", "spec.discovery.dns.lookupFamily", `"ipv4" is not a lookup family; one of auto, v4, v6, all`},
		{"refresh too short", dns + "      name: api.example\n      port: 80\n      refreshRate: 10ms\n",
			8, "Service/s", "spec.discovery.dns.refreshRate", `10ms is too short; at least 1s`},
		{"logical with ring hash", service + "  loadBalancer: {policy: RING_HASH, hashOn: {header: x-user}}\n" + "  discovery:\n    dns: {name: api.example, port: 80, type: logical}\n",
			4, "Service/s", "spec.loadBalancer.policy", `RING_HASH with dns type logical`},
		{"logical with maglev", service + "  loadBalancer: {policy: MAGLEV, hashOn: {header: x-user}}\n" + "  discovery:\n    dns: {name: api.example, port: 80, type: logical}\n",
			4, "Service/s", "spec.loadBalancer.policy", `MAGLEV with dns type logical`},
		{"logical with outlier detection", service + "  outlierDetection: {consecutive5xx: 3}\n" + "  discovery:\n    dns: {name: api.example, port: 80, type: logical}\n",
			4, "Service/s", "spec.outlierDetection", `not with dns type logical`},
		{"unknown field", dns + "      name: api.example\n      port: 80\n      ttl: 5s\n",
			8, "Service/s", "spec.discovery.dns.ttl", `unknown field "ttl"`},
	})
}

func TestDNSDiscoveryLoads(t *testing.T) {
	src := service + "  discovery:\n    dns: {name: API.example., port: 8443, type: logical, lookupFamily: v6, refreshRate: 30s}\n"
	snap := Load(testFS(t, map[string]string{"d.yaml": src}), nil)
	if errs := snap.Errors(); len(errs) == 0 {
		t.Fatalf("an uppercase name loaded; want an error (names are compared lowercase everywhere else)")
	}
	src = service + "  discovery:\n    dns: {name: api.example., port: 8443, type: logical, lookupFamily: v6, refreshRate: 30s}\n"
	snap = Load(testFS(t, map[string]string{"d.yaml": src}), nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	d := snap.Services["s"].Spec.Discovery.DNS
	if d.TypeOrDefault() != DNSLogical || d.FamilyOrDefault() != DNSFamilyV6 || d.RefreshOrDefault() != 30*time.Second || d.Port != 8443 {
		t.Errorf("loaded %+v", d)
	}
	var zero DNSDiscovery
	if zero.TypeOrDefault() != DNSStrict || zero.FamilyOrDefault() != DNSFamilyAuto || zero.RefreshOrDefault() != 5*time.Second {
		t.Errorf("defaults: %s %s %s", zero.TypeOrDefault(), zero.FamilyOrDefault(), zero.RefreshOrDefault())
	}
}

// TestDNSBoundsLoad: what TestBadDNSDiscovery refuses is exact: the first
// and last port, the shortest refresh rate, and a logical type with a load
// balancer that does not hash, load.
func TestDNSBoundsLoad(t *testing.T) {
	for _, dns := range []string{
		"{name: api.example, port: 1}",
		"{name: api.example, port: 65535, refreshRate: 1s}",
	} {
		snap := Load(testFS(t, map[string]string{"d.yaml": service + "  discovery:\n    dns: " + dns + "\n"}), nil)
		if errs := snap.Errors(); len(errs) > 0 || snap.Services["s"] == nil {
			t.Errorf("%s: %q", dns, errs)
		}
	}
	snap := Load(testFS(t, map[string]string{"d.yaml": service + "  loadBalancer: {policy: LEAST_REQUEST}\n  discovery:\n    dns: {name: api.example, port: 80, type: logical}\n"}), nil)
	if errs := snap.Errors(); len(errs) > 0 || snap.Services["s"] == nil {
		t.Errorf("logical, least request: %q", errs)
	}
}
