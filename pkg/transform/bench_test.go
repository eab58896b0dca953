package transform

import (
	"io"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// trivial answers every message with no change: the cost of the ext_proc
// round trips alone, the floor under the transformation service.
type trivial struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (trivial) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, trivial{}) }

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

// BenchmarkRenameTwoDropOne: the common reshaping of a ~1 KiB JSON
// response (rename two fields, drop one; buffered mode) through the
// service, and the same exchange through the trivial handler, in one run;
// reports the service's throughput as a percentage of the trivial one's
// (target >= 70).
func BenchmarkRenameTwoDropOne(b *testing.B) {
	body := []byte(`{"id":7,"first_name":"Ann","last_name":"Lee","password_hash":"` + strings.Repeat("x", 60) +
		`","roles":["user","beta"],"bio":"` + strings.Repeat("trail runner and climber. ", 30) + `","created":"2026-01-02T03:04:05Z"}`)
	tr := map[string]Transformation{"t": {Response: &Side{Body: &Body{Ops: []Op{
		{Rename: "first_name", To: "firstName"}, {Rename: "last_name", To: "lastName"}, {Remove: "password_hash"}}}}}}
	req := msg{headers: [][2]string{{":method", "GET"}, {":path", "/users/7"}, {":authority", "api.example"}}}
	resp := msg{headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}, body: body}
	run := func(b *testing.B, reg interface{ Register(*grpc.Server) }, n int) time.Duration {
		c := start(b, reg)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			res, err := play(ctx(b), c, "t", nil, req, resp, 0)
			if err != nil || res.immediate != nil {
				b.Fatal(err, res.immediate)
			}
		}
		return time.Since(t0)
	}
	s := svc(b, tr)
	// Interleave the two in rounds so machine load hits both alike.
	var tSvc, tTriv time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(200, b.N-done)
		tTriv += run(b, trivial{}, n)
		tSvc += run(b, s, n)
		done += n
	}
	b.ReportMetric(float64(tTriv)/float64(tSvc)*100, "%-of-trivial")
	b.ReportMetric(float64(b.N)/tSvc.Seconds(), "transform-exch/s")
	b.ReportMetric(float64(b.N)/tTriv.Seconds(), "trivial-exch/s")
}
