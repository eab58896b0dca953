package kubernetes

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/test/kube/kubetest"
)

// recorder keeps the last snapshot a Source reported.
type recorder struct {
	mu   sync.Mutex
	last registry.Snapshot
}

func (r *recorder) set(s registry.Snapshot) { r.mu.Lock(); r.last = s; r.mu.Unlock() }

func (r *recorder) get() registry.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// eventually polls cond every 20ms for at most bound and reports how long
// it took, or fails.
func eventually(t *testing.T, what string, bound time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, bound)
	return 0
}

func mkSlice(t *testing.T, srv *kubetest.Server, ns, name, svc string, ips ...string) {
	t.Helper()
	p, pn := int32(9000), "grpc"
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pn, Port: &p}},
	}
	for _, ip := range ips {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}})
	}
	if _, err := srv.Admin().DiscoveryV1().EndpointSlices(ns).Create(kubetest.Ctx(t), sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestSourceInformers runs the Source against a real API server: one
// informer per referenced namespace, started and stopped with the policy;
// cluster-wide with AllNamespaces; a slice without the Service label is
// ignored; and a missing kubeconfig is an error in Status and keeps the
// source unsynced (readiness held), never an empty snapshot.
func TestSourceInformers(t *testing.T) {
	srv := kubetest.Start(t)
	for _, ns := range []string{"shop", "billing"} {
		if _, err := srv.Admin().CoreV1().Namespaces().Create(kubetest.Ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkSlice(t, srv, "shop", "cart-1", "cart", "10.0.0.1", "10.0.0.2")
	mkSlice(t, srv, "billing", "pay-1", "pay", "10.0.1.1")
	// A slice that belongs to no Service: not listed at all.
	p := int32(9000)
	if _, err := srv.Admin().DiscoveryV1().EndpointSlices("shop").Create(kubetest.Ctx(t), &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "stray"}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Port: &p}}, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.9"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("per namespace", func(t *testing.T) {
		rec := &recorder{}
		s := New(Config{REST: srv.REST(srv.AdminToken), OnUpdate: rec.set, ProbeInterval: 200 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		s.SetServices(map[string]policy.KubernetesDiscovery{
			"cart": {Service: "cart", Namespace: "shop", Port: "grpc"},
			"pay":  {Service: "pay", Namespace: "billing", Port: "9000"},
		})
		took := eventually(t, "both synced", 30*time.Second, func() bool {
			snap := rec.get()
			return s.Synced() && len(snap["cart"]) == 2 && len(snap["pay"]) == 1
		})
		t.Logf("two namespaces listed in %v", took.Round(time.Millisecond))
		if n := s.Watching(); n != 2 {
			t.Errorf("Watching = %d, want 2 informers", n)
		}
		st := s.Status()
		if strings.Join(st.Namespaces, ",") != "billing,shop" || !st.Synced {
			t.Errorf("status namespaces %v synced %v", st.Namespaces, st.Synced)
		}
		eventually(t, "up", 10*time.Second, s.Up)

		// billing no longer referenced: its informer stops, pay leaves.
		s.SetServices(map[string]policy.KubernetesDiscovery{"cart": {Service: "cart", Namespace: "shop", Port: "grpc"}})
		eventually(t, "billing stopped", 10*time.Second, func() bool {
			_, hasPay := rec.get()["pay"]
			return s.Watching() == 1 && !hasPay
		})
		for _, ep := range rec.get()["cart"] {
			if ep.Address == "10.9.9.9" {
				t.Errorf("a slice without the Service label was read: %+v", ep)
			}
		}
	})

	t.Run("all namespaces", func(t *testing.T) {
		rec := &recorder{}
		s := New(Config{REST: srv.REST(srv.AdminToken), AllNamespaces: true, OnUpdate: rec.set})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		s.SetServices(map[string]policy.KubernetesDiscovery{
			"cart": {Service: "cart", Namespace: "shop", Port: "grpc"},
			"pay":  {Service: "pay", Namespace: "billing", Port: "grpc"},
			// Same Service name in the wrong namespace: nothing.
			"cart-billing": {Service: "cart", Namespace: "billing", Port: "grpc"},
		})
		eventually(t, "synced", 30*time.Second, func() bool {
			snap := rec.get()
			return s.Synced() && len(snap["cart"]) == 2 && len(snap["pay"]) == 1
		})
		if n := s.Watching(); n != 1 {
			t.Errorf("Watching = %d, want 1 cluster-wide informer", n)
		}
		if eps, ok := rec.get()["cart-billing"]; !ok || len(eps) != 0 {
			t.Errorf("cart in billing = %v (present %v), want present and empty", eps, ok)
		}
	})

	t.Run("unknown namespace", func(t *testing.T) {
		rec := &recorder{}
		s := New(Config{REST: srv.REST(srv.AdminToken), OnUpdate: rec.set})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		s.SetServices(map[string]policy.KubernetesDiscovery{"cart": {Service: "cart", Namespace: "no-such-namespace", Port: "grpc"}})
		eventually(t, "synced", 30*time.Second, s.Synced)
		eventually(t, "status line", 5*time.Second, func() bool {
			st := s.Status()
			return len(st.Services) == 1 && st.Services[0].State == "no EndpointSlices (Service or namespace not found?)"
		})
	})

	t.Run("no kubeconfig", func(t *testing.T) {
		t.Setenv("KUBECONFIG", "")
		t.Setenv("KUBERNETES_SERVICE_HOST", "")
		rec := &recorder{}
		s := New(Config{Kubeconfig: t.TempDir() + "/missing", OnUpdate: rec.set, ProbeInterval: 100 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		s.SetServices(map[string]policy.KubernetesDiscovery{"cart": {Service: "cart", Namespace: "shop"}})
		eventually(t, "error in status", 5*time.Second, func() bool {
			return strings.Contains(s.Status().LastError, "missing")
		})
		time.Sleep(300 * time.Millisecond)
		if s.Synced() || s.Up() {
			t.Errorf("Synced %v Up %v without a kubeconfig, want false, false", s.Synced(), s.Up())
		}
		if snap := rec.get(); snap != nil {
			if _, ok := snap["cart"]; ok {
				t.Errorf("an unsynced Service was reported: %v", snap)
			}
		}
		if st := s.Status(); st.Synced || st.Services[0].State != "not synced yet" {
			t.Errorf("status %+v", st)
		}
	})
}
