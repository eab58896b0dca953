package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
)

// TestRegistryModel: every discovery source on main (static, Consul,
// Kubernetes, DNS) implements registry.Source and reports its health the
// same way, in gatehouse_registry_up{source=...} and in one status line.
// The external sources point at backends that do not answer (a closed
// port, a missing kubeconfig), so they must report down and not synced
// while static stays up.
func TestRegistryModel(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	snap := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(`kind: Service
name: st
spec: {discovery: {static: [{address: 127.0.0.1, port: 9000}]}}
---
kind: Service
name: co
spec: {discovery: {consul: {service: co}}}
---
kind: Service
name: ku
spec: {discovery: {kubernetes: {service: ku, namespace: shop, port: "80"}}}
---
kind: Service
name: dn
spec: {discovery: {dns: {name: dn.test, port: 80}}}
`)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	var ctrl *controller.Controller // never called: nothing is ever read
	consulSrc, err := newConsulSource("127.0.0.1:1", "", &ctrl)
	if err != nil {
		t.Fatal(err)
	}
	kubeSrc := newKubeSource(filepath.Join(t.TempDir(), "missing-kubeconfig"), "", false, &ctrl)
	dnsSrc, err := newDNSSource([]string{"127.0.0.1:1"}, &ctrl)
	if err != nil {
		t.Fatal(err)
	}
	srcs := []registry.Source{&static.Source{}, consulSrc, kubeSrc, dnsSrc}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(srcs))
	for _, s := range srcs {
		s.SetPolicy(snap)
		go func() { s.Run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range srcs {
			<-done
		}
	}()
	start := time.Now()
	for time.Since(start) < 20*time.Second && (consulSrc.Up() || kubeSrc.Up() || dnsSrc.Up()) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("every unreachable backend reported down after %v", time.Since(start).Round(time.Millisecond))

	reg := prometheus.NewRegistry()
	reg.MustRegister(newRegistryUp(srcs...))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_registry_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{"static": 1, "consul": 0, "kubernetes": 0, "dns": 0}
	for src, v := range want {
		if g, ok := got[src]; !ok || g != v {
			t.Errorf(`gatehouse_registry_up{source=%q} = %v (present %v), want %v`, src, g, ok, v)
		}
	}

	var b bytes.Buffer
	printRegistries(&b, registriesHealth(srcs...))
	for _, line := range []string{
		"  static: up, synced, 1 in use\n",
		"  consul: DOWN (serving the last known endpoints), NOT SYNCED, 1 in use\n",
		"  kubernetes: DOWN (serving the last known endpoints), NOT SYNCED, 1 in use\n",
		"  dns: DOWN (serving the last known endpoints), NOT SYNCED, 1 in use\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("status lacks %q:\n%s", line, b.String())
		}
	}
	// A source no Service uses shows in neither.
	empty := &static.Source{}
	if rs := registriesHealth(empty); len(rs) != 0 {
		t.Errorf("unused source in status: %+v", rs)
	}
}
