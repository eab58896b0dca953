package policy

import "testing"

// TestBadEurekaDiscovery: each bad eureka discovery names the file, line
// and field, and says what is allowed.
func TestBadEurekaDiscovery(t *testing.T) {
	runBadCases(t, []badCase{
		{"eureka and static", service + "  discovery:\n    eureka: {app: cart}\n    static: [{address: 127.0.0.1, port: 1}]\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"eureka without app", service + "  discovery:\n    eureka: {vip: cart}\n",
			5, "Service/s", "spec.discovery.eureka.app", `required: the Eureka application name`},
		{"eureka app with space", service + "  discovery:\n    eureka:\n      app: my cart\n",
			6, "Service/s", "spec.discovery.eureka.app", `"my cart" is not a Eureka application name`},
		{"eureka app with slash", service + "  discovery:\n    eureka:\n      app: ../apps\n",
			6, "Service/s", "spec.discovery.eureka.app", `"../apps" is not a Eureka application name`},
		{"eureka vip list", service + "  discovery:\n    eureka:\n      app: cart\n      vip: cart,orders\n",
			7, "Service/s", "spec.discovery.eureka.vip", `"cart,orders" is not a Eureka VIP address (one name`},
		{"eureka empty vip", service + "  discovery:\n    eureka:\n      app: cart\n      vip: \"\"\n",
			7, "Service/s", "spec.discovery.eureka.vip", `"" is not a Eureka VIP address`},
		{"eureka app mapping", service + "  discovery:\n    eureka:\n      app: {name: cart}\n",
			6, "Service/s", "spec.discovery.eureka.app", `expected a string, got a mapping`},
		{"eureka unknown field", service + "  discovery:\n    eureka:\n      app: cart\n      url: http://eureka:8761/eureka\n",
			7, "Service/s", "spec.discovery.eureka.url", `unknown field "url"; allowed: app, vip`},
	})
}

func TestEurekaDiscoveryLoads(t *testing.T) {
	snap := Load(testFS(t, map[string]string{"e.yaml": service + "  discovery:\n    eureka: {app: CART-service, vip: cart.shop:8080}\n"}), nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	e := snap.Services["s"].Spec.Discovery.Eureka
	if e == nil || e.App != "CART-service" || e.VIP != "cart.shop:8080" {
		t.Errorf("loaded %+v", e)
	}
}
