package policy

import "testing"

// TestBadKubernetesDiscovery: each bad kubernetes discovery names the file
// line and field, and says what is allowed.
func TestBadKubernetesDiscovery(t *testing.T) {
	runBadCases(t, []badCase{
		{"kubernetes and consul", service + "  discovery:\n    consul: {service: x}\n    kubernetes: {service: x, port: 80}\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"kubernetes and static", service + "  discovery:\n    kubernetes: {service: x, port: http}\n    static: [{address: 127.0.0.1, port: 1}]\n",
			4, "Service/s", "spec.discovery", `set exactly one of consul, dns, eureka, kubernetes, static`},
		{"kubernetes without service", service + "  discovery:\n    kubernetes: {namespace: shop, port: http}\n",
			5, "Service/s", "spec.discovery.kubernetes.service", `required: the Kubernetes Service name`},
		{"kubernetes service uppercase", service + "  discovery:\n    kubernetes:\n      service: Cart\n",
			6, "Service/s", "spec.discovery.kubernetes.service", `"Cart" is not a Kubernetes Service name`},
		{"kubernetes service starts with digit", service + "  discovery:\n    kubernetes:\n      service: 1cart\n",
			6, "Service/s", "spec.discovery.kubernetes.service", `"1cart" is not a Kubernetes Service name`},
		{"kubernetes bad namespace", service + "  discovery:\n    kubernetes:\n      service: cart\n      namespace: Shop_1\n",
			7, "Service/s", "spec.discovery.kubernetes.namespace", `"Shop_1" is not a Kubernetes namespace name`},
		{"kubernetes empty namespace", service + "  discovery:\n    kubernetes:\n      service: cart\n      namespace: \"\"\n",
			7, "Service/s", "spec.discovery.kubernetes.namespace", `"" is not a Kubernetes namespace name`},
		{"kubernetes port zero", service + "  discovery:\n    kubernetes:\n      service: cart\n      port: 0\n",
			7, "Service/s", "spec.discovery.kubernetes.port", `0 is out of range; a port number is 1..65535`},
		{"kubernetes port too big", service + "  discovery:\n    kubernetes:\n      service: cart\n      port: 65536\n",
			7, "Service/s", "spec.discovery.kubernetes.port", `65536 is out of range`},
		{"kubernetes port negative", service + "  discovery:\n    kubernetes:\n      service: cart\n      port: -1\n",
			7, "Service/s", "spec.discovery.kubernetes.port", `"-1" is neither a port number (1..65535) nor a Kubernetes port name`},
		{"kubernetes port name with space", service + "  discovery:\n    kubernetes:\n      service: cart\n      port: \"http api\"\n",
			7, "Service/s", "spec.discovery.kubernetes.port", `"http api" is neither a port number`},
		{"kubernetes port mapping", service + "  discovery:\n    kubernetes:\n      service: cart\n      port: {name: http}\n",
			7, "Service/s", "spec.discovery.kubernetes.port", `expected a string, got a mapping`},
		{"kubernetes unknown field", service + "  discovery:\n    kubernetes:\n      service: cart\n      labels: {app: cart}\n",
			7, "Service/s", "spec.discovery.kubernetes.labels", `unknown field "labels"; allowed: namespace, port, service`},
	})
}

func TestKubernetesDiscoveryLoads(t *testing.T) {
	for _, port := range []string{"8080", "1", "65535", "http", "grpc-web", ""} {
		src := service + "  discovery:\n    kubernetes: {service: cart, namespace: shop"
		if port != "" {
			src += ", port: " + port
		}
		src += "}\n"
		snap := Load(testFS(t, map[string]string{"k.yaml": src}), nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatalf("port %q: %v", port, errs)
		}
		k := snap.Services["s"].Spec.Discovery.Kubernetes
		if k == nil || k.Service != "cart" || k.Namespace != "shop" || k.Port != port {
			t.Errorf("port %q: loaded %+v", port, k)
		}
	}
	snap := Load(testFS(t, map[string]string{"k.yaml": service + "  discovery:\n    kubernetes: {service: cart}\n"}), nil)
	if ns := snap.Services["s"].Spec.Discovery.Kubernetes.NamespaceOrDefault(); ns != "default" {
		t.Errorf("namespace defaults to %q, want default", ns)
	}
}
