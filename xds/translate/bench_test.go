package translate

import (
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// BenchmarkTranslate is the full build of the benchmark target: 1,000
// Services x 1,000 Routes x 10 endpoints: translate both groups, build every
// ClusterLoadAssignment and run every check, endpoints included.
func BenchmarkTranslate(b *testing.B) {
	p := bigSnapshot(b, 1000, 1000, 100)
	reg := bigRegistry(p, 10)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b).Stop()
	for i := 0; i < b.N; i++ {
		groups, err := Translate(p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		// Both client kinds of a Service ask for the same EDS name, so one
		// ClusterLoadAssignment per name serves every group.
		clas := make(map[string]*endpointv3.ClusterLoadAssignment, len(p.Services))
		for _, g := range groups {
			for eds, svc := range g.EDS {
				if clas[eds] == nil {
					clas[eds] = Endpoints(eds, g.LocalZone[eds], reg[svc])
				}
			}
		}
		for _, g := range groups {
			if err := Check(g, clas); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEndpoints is one Service's endpoints changing.
func BenchmarkEndpoints(b *testing.B) {
	p := bigSnapshot(b, 1, 1, 1)
	eps := bigRegistry(p, 10)["svc-0000"]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Endpoints("svc/svc-0000/00000000", "", eps)
	}
}

// BenchmarkTranslateOnly is Translate with its checks, no endpoints.
func BenchmarkTranslateOnly(b *testing.B) {
	p := bigSnapshot(b, 1000, 1000, 100)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpumeter.Start(b).Stop()
	for i := 0; i < b.N; i++ {
		if _, err := Translate(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
