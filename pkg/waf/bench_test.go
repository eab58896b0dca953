package waf

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	coraza "github.com/corazawaf/coraza/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// trivial answers CONTINUE to everything: the cost of the ext_proc round
// trips alone, the floor under the WAF service.
type trivial struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (trivial) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var resp extprocv3.ProcessingResponse
		switch req.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp.Response = &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp.Response = &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp.Response = &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}
		case *extprocv3.ProcessingRequest_ResponseBody:
			resp.Response = &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}
		}
		if err := s.Send(&resp); err != nil {
			return err
		}
	}
}

type registrar interface{ Register(*grpc.Server) }

type trivialReg struct{}

func (trivialReg) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, trivial{}) }

func benchRequests() map[string]struct {
	hs   [][2]string
	body []byte
} {
	json := []byte(`{"items":[` + strings.Repeat(`{"sku":"A-1042","name":"trail running shoe","qty":2,"note":"gift wrap please"},`, 52) + `{"end":true}]}`)
	post := append(get("/api/orders"), [2]string{"content-type", "application/json"}, [2]string{"content-length", fmt.Sprint(len(json))})
	post[0][1] = "POST"
	return map[string]struct {
		hs   [][2]string
		body []byte
	}{"GET": {get("/products?page=2&sort=price"), nil}, "POST-4KiB-JSON": {post, json}}
}

// BenchmarkWAF: the ext_proc service over loopback gRPC, Coraza in-process
// on the same requests (the limit), and a trivial ext_proc handler (the
// transport floor), paranoia level 1. Reports p99 per request.
func BenchmarkWAF(b *testing.B) {
	for name, r := range benchRequests() {
		b.Run("inprocess/"+name, func(b *testing.B) {
			w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(Policy{}.directives()))
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				e := newExchange(w, "bench")
				for _, m := range steps(r.hs, r.body) {
					if _, done := e.handle(m); done {
						b.Fatal("benign request blocked")
					}
				}
				e.close()
				lat = append(lat, time.Since(t0))
			}
			reportP99(b, lat)
		})
		for _, srv := range []string{"service", "trivial"} {
			b.Run(srv+"/"+name, func(b *testing.B) {
				var reg registrar = trivialReg{}
				if srv == "service" {
					svc, err := New(map[string]Policy{"bench": {}})
					if err != nil {
						b.Fatal(err)
					}
					reg = svc
				}
				client := startRegistrar(b, reg)
				lat := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					_, blocked, err := envoyExchange(context.Background(), client, "bench", "HTTP/1.1", r.hs, r.body, 200, [][2]string{{"content-type", "application/json"}}, []byte(`{"ok":true}`), 64<<10)
					if err != nil || blocked != nil {
						b.Fatalf("err %v blocked %v", err, blocked)
					}
					lat = append(lat, time.Since(t0))
				}
				reportP99(b, lat)
			})
		}
	}
}

func steps(hs [][2]string, body []byte) []*extprocv3.ProcessingRequest {
	out := []*extprocv3.ProcessingRequest{{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hs), EndOfStream: len(body) == 0}}}}
	out = append(out, bodySteps(body, 64<<10, false)...)
	out = append(out, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap([][2]string{{":status", "200"}, {"content-type", "application/json"}})}}})
	return append(out, bodySteps([]byte(`{"ok":true}`), 64<<10, true)...)
}

func reportP99(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
