// Package bench measures Gatehouse from input to published snapshot:
// translate, checks, endpoints, content hashing and SetSnapshot, at the
// scale of the performance targets (1,000 Services x 1,000 Routes x 10
// endpoints). Run with `make bench` (figures) or `make bench-short`.
package bench

import (
	"context"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

const (
	nServices  = 1000
	nRoutes    = 1000
	nEndpoints = 10
	nHosts     = 50
)

// bigPolicy is one Gateway with nServices static Services of nEndpoints
// each and nRoutes Routes spread over nHosts hosts, every Route with a path
// prefix, a method and a header match, timeouts and retries.
func bigPolicy() *policy.Snapshot {
	p := &policy.Snapshot{
		Gateways: map[string]*policy.Gateway{"public": {
			Meta: policy.Meta{Kind: policy.KindGateway, Name: "public"},
			Spec: policy.GatewaySpec{Listeners: []policy.Listener{{Name: "http", Port: 8080, Protocol: policy.ProtocolHTTP}}},
		}},
		Services: map[string]*policy.Service{},
		Routes:   map[string]*policy.Route{},
	}
	for i := 0; i < nServices; i++ {
		name := fmt.Sprintf("svc-%04d", i)
		var eps []policy.StaticEndpoint
		for j := 0; j < nEndpoints; j++ {
			eps = append(eps, policy.StaticEndpoint{Address: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1), Port: 8080, Zone: fmt.Sprintf("z%d", j%3)})
		}
		p.Services[name] = &policy.Service{
			Meta: policy.Meta{Kind: policy.KindService, Name: name},
			Spec: policy.ServiceSpec{
				Protocol:         policy.ServiceGRPC,
				Discovery:        policy.Discovery{Static: eps},
				LoadBalancer:     &policy.LoadBalancer{Policy: policy.LBLeastRequest},
				CircuitBreaker:   &policy.CircuitBreaker{MaxConnections: 1024, MaxRequests: 1024},
				OutlierDetection: &policy.OutlierDetection{Consecutive5xx: 5},
			},
		}
	}
	for i := 0; i < nRoutes; i++ {
		name := fmt.Sprintf("route-%04d", i)
		w90, w10 := 90, 10
		p.Routes[name] = &policy.Route{
			Meta: policy.Meta{Kind: policy.KindRoute, Name: name},
			Spec: policy.RouteSpec{
				Gateways: []string{"public"},
				Hosts:    []string{fmt.Sprintf("host-%02d.example.com", i%nHosts)},
				Match: policy.RouteMatch{
					Path:    policy.PathMatch{Prefix: fmt.Sprintf("/api/v%d/r%04d", i%3, i)},
					Methods: []string{"GET", "POST"},
					Headers: []policy.HeaderMatch{{Name: "x-tenant", Prefix: "t"}},
				},
				Backends: []policy.Backend{
					{Service: fmt.Sprintf("svc-%04d", i%nServices), Weight: &w90},
					{Service: fmt.Sprintf("svc-%04d", (i+1)%nServices), Weight: &w10},
				},
				Timeout: policy.Duration(5e9),
				Retries: &policy.Retries{Attempts: 2, On: []string{"5xx", "reset"}},
			},
		}
	}
	return p
}

// fullBuild is the whole path from a policy snapshot to published snapshots.
func fullBuild(tb testing.TB, p *policy.Snapshot) (*controller.Builder, *server.Publisher, registry.Snapshot) {
	b, pub, eps, _ := fullBuildResult(tb, p)
	return b, pub, eps
}

// fullBuildResult is fullBuild, also returning what was published.
func fullBuildResult(tb testing.TB, p *policy.Snapshot) (*controller.Builder, *server.Publisher, registry.Snapshot, *controller.Result) {
	b := &controller.Builder{}
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer controller.DeferGC()() // as the controller holds it over a policy build and its publish
	eps := static.Endpoints(p)
	res, err := b.Build(p, eps, true)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pub.Publish(context.Background(), res.Groups, res.CLAs, res.CLAHashes); err != nil {
		tb.Fatal(err)
	}
	b.Commit(res, eps)
	return b, pub, eps, res
}

// BenchmarkFullBuild: 1,000 Services x 1,000 Routes x 10 endpoints, from a
// policy snapshot to published snapshots (target <= 20 ms, heap <= 100 MB).
// The machine's speed varies (it is shared), so it also reports, measured in
// the same run, the time to only marshal what the build publishes
// (marshal-ms: every resource once, the least any build must spend) and the
// build's time as a multiple of it (x-marshal), steadier across runs.
func BenchmarkFullBuild(b *testing.B) {
	p := bigPolicy()
	b.ReportAllocs()
	cpu := cpumeter.Start(b)
	var keep []any
	var last *controller.Result
	for i := 0; i < b.N; i++ {
		bl, pub, _, res := fullBuildResult(b, p)
		if i == b.N-1 {
			keep = append(keep, bl, pub)
			last = res
		}
	}
	elapsed := b.Elapsed()
	cpu.Stop()
	b.StopTimer()
	marshal := marshalBaseline(b, last)
	b.ReportMetric(float64(marshal)/1e6, "marshal-ms")
	b.ReportMetric(float64(elapsed)/float64(b.N)/float64(marshal), "x-marshal")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	runtime.KeepAlive(keep)
}

// BenchmarkFullBuildLatency is BenchmarkFullBuild one build at a time:
// before each, outside the timer, a GC collects the previous builds'
// garbage, as the process's idle time does between policy changes. Back
// to back (BenchmarkFullBuild) every build also pays for marking the
// garbage of the ones before it, which is throughput, not the latency of
// a change; this reports that latency's median and 90th percentile.
func BenchmarkFullBuildLatency(b *testing.B) {
	p := bigPolicy()
	took := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		fullBuildResult(b, p)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(took[len(took)*9/10])/1e6, "p90-ms")
}

// BenchmarkEndpointChange: one endpoint of one Service changes among 1,000;
// from the registry change to published snapshots (target <= 1 ms). Outside
// the timer it verifies that exactly one ClusterLoadAssignment was rebuilt
// and that only the endpoints version changed in each group.
func BenchmarkEndpointChange(b *testing.B) {
	p := bigPolicy()
	bl, pub, eps := fullBuild(b, p)
	before := versions(pub)
	b.ReportAllocs()
	cpu := cpumeter.Start(b)
	for i := 0; i < b.N; i++ {
		next := changeOne(eps, i)
		res, err := bl.Build(p, next, false)
		if err != nil {
			b.Fatal(err)
		}
		stats, err := pub.Publish(context.Background(), res.Groups, res.CLAs, res.CLAHashes)
		if err != nil {
			b.Fatal(err)
		}
		bl.Commit(res, next)
		eps = next

		cpu.Pause()
		if res.EndpointsChanged != 1 { // both client kinds share a Service's EDS name
			b.Fatalf("rebuilt %d ClusterLoadAssignments, want 1", res.EndpointsChanged)
		}
		if len(stats.Changed) != 2 {
			b.Fatalf("%d groups changed, want both groups of the Gateway", len(stats.Changed))
		}
		for k, types := range stats.Changed {
			if len(types) != 1 || types[0] != "endpoints" {
				b.Fatalf("group %s changed %v, want only endpoints", k, types)
			}
		}
		after := versions(pub)
		for k, vs := range after {
			for typ, v := range vs {
				if typ != "endpoints" && before[k][typ] != v {
					b.Fatalf("group %s: %s version changed %s -> %s", k, typ, before[k][typ], v)
				}
			}
			if vs["endpoints"] == before[k]["endpoints"] {
				b.Fatalf("group %s: endpoints version did not change", k)
			}
		}
		before = after
		cpu.Resume()
	}
	cpu.Stop()
}

// changeOne returns eps with one endpoint of one Service moved to a new
// port: a copy-on-write of one map entry, as a registry source produces.
func changeOne(eps registry.Snapshot, i int) registry.Snapshot {
	next := make(registry.Snapshot, len(eps))
	for k, v := range eps {
		next[k] = v
	}
	svc := fmt.Sprintf("svc-%04d", i%nServices)
	list := append([]registry.Endpoint(nil), next[svc]...)
	list[0].Port = 9000 + i%1000
	if list[0].Port == eps[svc][0].Port {
		list[0].Port++
	}
	next[svc] = list
	return next
}

func versions(pub *server.Publisher) map[translate.GroupKey]map[string]string {
	out := map[translate.GroupKey]map[string]string{}
	for _, c := range []translate.ClientKind{translate.ClientEnvoy, translate.ClientGRPC} {
		k := translate.GroupKey{Gateway: "public", Client: c}
		v, ok := pub.Versions(k)
		if !ok {
			panic("no group " + k.String())
		}
		out[k] = v
	}
	return out
}

// marshalBaseline is the fastest of three passes that marshal every
// resource of res once (deterministic, as the publisher hashes them).
func marshalBaseline(tb testing.TB, res *controller.Result) time.Duration {
	var msgs []proto.Message
	for _, g := range res.Groups {
		for _, list := range [][]types.Resource{g.Listeners, g.Routes, g.Clusters, g.Secrets} {
			for _, r := range list {
				msgs = append(msgs, r)
			}
		}
	}
	for _, c := range res.CLAs {
		msgs = append(msgs, c)
	}
	best := time.Duration(1<<63 - 1)
	opts := proto.MarshalOptions{Deterministic: true}
	for range 3 {
		start := time.Now()
		for _, m := range msgs {
			if _, err := opts.Marshal(m); err != nil {
				tb.Fatal(err)
			}
		}
		best = min(best, time.Since(start))
	}
	return best
}
