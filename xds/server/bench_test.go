package server

import (
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

const (
	benchClusters  = 1000
	benchEndpoints = 10
)

// BenchmarkPublishEndpointChange: one CLA changes among 1,000 (x10
// endpoints); Publish, SetSnapshot included. watchers=N adds N Envoy EDS
// watches that SetSnapshot answers (the cache builds one response each).
func BenchmarkPublishEndpointChange(b *testing.B) {
	for _, watchers := range []int{0, 10} {
		b.Run(map[int]string{0: "watchers=0", 10: "watchers=10"}[watchers], func(b *testing.B) {
			benchEndpointChange(b, watchers)
		})
	}
}

func benchEndpointChange(b *testing.B, watchers int) {
	p := newTestPublisher(b)
	f := newFixture("gw", translate.ClientEnvoy, benchClusters, benchEndpoints)
	mustPublish(b, p, f.groups(), f.clas)
	before, _ := p.Versions(f.key)
	orig := make([]*endpointv3.ClusterLoadAssignment, benchClusters)
	alt := make([]*endpointv3.ClusterLoadAssignment, benchClusters)
	for i := range benchClusters {
		orig[i] = f.clas[edsName(i)]
		alt[i] = testCLA(edsName(i), 20000, benchEndpoints)
	}
	groups := f.groups()
	edsNames := slices.Sorted(func(yield func(string) bool) {
		for n := range f.group.EDS {
			if !yield(n) {
				return
			}
		}
	})
	chans := make([]chan cache.Response, watchers)
	for i := range chans {
		chans[i] = make(chan cache.Response, 1)
	}
	watch := func() {
		v, _ := p.Versions(f.key)
		for _, ch := range chans {
			req := &cache.Request{Node: nodeFor("gw", "envoy"), TypeUrl: resource.EndpointType, ResourceNames: edsNames, VersionInfo: v[TypeEndpoints]}
			// The proxy holds every CLA of the current version, so the watch
			// waits for the next snapshot.
			sub := stream.NewSotwSubscription(edsNames, true)
			sub.SetReturnedResources(returned(edsNames, v[TypeEndpoints]))
			if _, err := p.envoy.CreateWatch(req, sub, ch); err != nil {
				b.Fatal(err)
			}
			if len(ch) != 0 {
				b.Fatal("the watch was answered at once")
			}
		}
	}
	watch()
	b.ReportAllocs()
	cpu := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		k := i % benchClusters
		if (i/benchClusters)%2 == 0 {
			f.clas[edsName(k)] = alt[k]
		} else {
			f.clas[edsName(k)] = orig[k]
		}
		st, err := p.Publish(b.Context(), groups, f.clas, nil)
		if err != nil {
			b.Fatal(err)
		}
		if c := st.Changed[f.key]; len(st.Changed) != 1 || len(c) != 1 || c[0] != TypeEndpoints {
			b.Fatalf("changed = %v, want only endpoints", st.Changed)
		}
		if watchers > 0 {
			cpu.Pause()
			for _, ch := range chans {
				if len(ch) != 1 {
					b.Fatal("a watch was not answered")
				}
				<-ch
			}
			watch()
			cpu.Resume()
		}
	}
	cpu.Stop()
	after, _ := p.Versions(f.key)
	for _, typ := range []string{TypeClusters, TypeListeners, TypeRoutes, TypeSecrets} {
		if before[typ] != after[typ] {
			b.Fatalf("%s version moved", typ)
		}
	}
	snap, _ := p.Snapshot(f.key)
	last := (b.N - 1) % benchClusters
	if snap.GetResources(resource.EndpointType)[edsName(last)] != f.clas[edsName(last)] {
		b.Fatal("the last changed CLA is not in the snapshot")
	}
}

// BenchmarkPublishFull: a fresh Publisher gets 1,000 clusters, routes and
// CLAs (x10 endpoints): every resource is marshalled and hashed.
func BenchmarkPublishFull(b *testing.B) {
	f := newFixture("gw", translate.ClientEnvoy, benchClusters, benchEndpoints)
	groups := f.groups()
	b.ReportAllocs()
	cpu := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		p, err := NewPublisher(PublisherOptions{})
		if err != nil {
			b.Fatal(err)
		}
		st, err := p.Publish(b.Context(), groups, f.clas, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Changed[f.key]) != int(numTypes) {
			b.Fatalf("changed = %v", st.Changed)
		}
	}
	cpu.Stop()
}

// BenchmarkMarshalEDSResponse is what each stream pays per EDS push of
// 1,000 CLAs: go-control-plane marshals every resource again for every
// response (the bytes are not shared between streams).
func BenchmarkMarshalEDSResponse(b *testing.B) {
	f := newFixture("gw", translate.ClientEnvoy, benchClusters, benchEndpoints)
	res := make([]types.ResourceWithTTL, 0, len(f.clas))
	for _, c := range f.clas {
		res = append(res, types.ResourceWithTTL{Resource: c})
	}
	req := &cache.Request{TypeUrl: resource.EndpointType}
	b.ReportAllocs()
	cpu := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		r := cache.NewTestRawResponse(req, "v", res)
		if _, err := r.GetDiscoveryResponse(); err != nil {
			b.Fatal(err)
		}
	}
	cpu.Stop()
}

func returned(names []string, version string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = version
	}
	return m
}

// BenchmarkGRPCResponse: one proxyless stream's response of 10 of a
// group's 1,000 CLAs, built from the shared encodings (grpcshare.go) and,
// measured in the same run as the baseline, marshalled by the stock
// cache's RawResponse as it did for every stream; reports both per
// response and their ratio (shared/stock).
func BenchmarkGRPCResponse(b *testing.B) {
	p := newTestPublisher(b)
	f := newFixture("gw", translate.ClientGRPC, benchClusters, benchEndpoints)
	mustPublish(b, p, f.groups(), f.clas)
	names := make([]string, 10)
	res := make([]types.ResourceWithTTL, len(names))
	for i := range names {
		names[i] = edsName(i * 100)
		res[i] = types.ResourceWithTTL{Resource: f.clas[names[i]]}
	}
	snap, err := p.grpc.GetSnapshot(f.key.String())
	if err != nil {
		b.Fatal(err)
	}
	version := snap.GetVersion(resource.EndpointType)
	node := &corev3.Node{Id: "g", Cluster: "gw", UserAgentName: "gRPC Go"}
	req := &cache.Request{TypeUrl: resource.EndpointType, ResourceNames: names, Node: node}
	b.ReportAllocs()
	var stock, shared time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := cache.NewTestRawResponse(req, version, res)
		if _, err := r.GetDiscoveryResponse(); err != nil {
			b.Fatal(err)
		}
		stock += time.Since(start)
		start = time.Now()
		r = cache.NewTestRawResponse(req, version, res)
		if _, ok, err := p.grpcShare.response(r); err != nil || !ok {
			b.Fatalf("not built from the shared encodings: %v", err)
		}
		shared += time.Since(start)
	}
	b.ReportMetric(float64(stock.Nanoseconds())/float64(b.N), "stock-ns/response")
	b.ReportMetric(float64(shared.Nanoseconds())/float64(b.N), "shared-ns/response")
	b.ReportMetric(float64(shared)/float64(stock), "shared/stock")
}
