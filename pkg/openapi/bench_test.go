package openapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// benchPet is a valid Pet of about 4 KiB (60 tags).
var benchPet = `{"id":10,"name":"doggie","category":{"id":1,"name":"Dogs"},"photoUrls":["https://img.example/1.png"],"tags":[` +
	strings.Repeat(`{"id":1,"name":"friendly-and-well-behaved"},`, 60) + `{"id":2,"name":"x"}],"status":"available"}`

// BenchmarkValidate: each iteration validates the same request twice, once
// through the processor over loopback gRPC and the dispatcher (as Envoy
// calls it) and once with kin-openapi called in-process (the limit: no
// transport, no message conversion), and reports both and the ratio of
// throughputs (inprocess time / service time, in percent) and the
// service's p99.
//
//	go test -run XXX -bench BenchmarkValidate -benchtime 2000x ./pkg/openapi
func BenchmarkValidate(b *testing.B) {
	cases := []struct {
		name string
		r    req
	}{
		{"GET", req{method: "GET", path: "/api/v3/pet/findByStatus?status=sold"}},
		{"POST-4KiB-JSON", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(benchPet)}},
	}
	pol := testPolicies(b)["petstore"]
	svc, err := New(map[string]Policy{"petstore": pol})
	if err != nil {
		b.Fatal(err)
	}
	c := serve(b, svc)
	limit, err := compile(pol)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var inproc, service time.Duration
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := inProcess(limit, tc.r); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if got := exchangeOnce(b, c, "petstore", tc.r, nil); got.refused != nil {
					b.Fatalf("refused: %s", got.refused.GetBody())
				}
				d := time.Since(t1)
				inproc += t1.Sub(t0)
				service += d
				lat = append(lat, d)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(inproc.Nanoseconds())/float64(b.N), "inprocess-ns/op")
			b.ReportMetric(float64(service.Nanoseconds())/float64(b.N), "service-ns/op")
			b.ReportMetric(100*float64(inproc)/float64(service), "service/inprocess-%")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "service-p99-µs")
		})
	}
}

// inProcess is the limit: kin-openapi on an http.Request, the way an
// application would validate in its own middleware.
func inProcess(c *compiled, r req) error {
	u, err := url.ParseRequestURI(r.path)
	if err != nil {
		return err
	}
	u.Path, _ = c.stripBase(u.Path)
	hr := &http.Request{Method: r.method, URL: u, Header: http.Header{}, Body: http.NoBody}
	for _, h := range r.headers {
		hr.Header.Add(h[0], h[1])
	}
	if r.body != nil {
		hr.Body = io.NopCloser(bytes.NewReader(r.body))
		hr.ContentLength = int64(len(r.body))
	}
	route, params, err := c.router.FindRoute(hr)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: options()})
}
