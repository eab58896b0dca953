package usage

import (
	"testing"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/proto"
)

// Whatever message decodes, counting it never panics, and a message is
// either counted or refused with a reason.
func FuzzReceive(f *testing.F) {
	for _, m := range []*alsv3.StreamAccessLogsMessage{
		withID("gw", httpLogs(entry{route: "r", service: "s", consumer: "c", code: 200, ms: 5, headers: map[string]string{"x-ratelimit-limit": "10, 10;w=1", "x-ratelimit-remaining": "2"}})),
		httpLogs(entry{code: 503}),
		{},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	s, err := New(Options{MaxGateways: 4, MaxRoutes: 8, MaxConsumers: 8, MaxRows: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &alsv3.StreamAccessLogsMessage{}
		if proto.Unmarshal(b, m) != nil {
			return
		}
		gateway := m.GetIdentifier().GetNode().GetCluster()
		if gateway == "" {
			gateway = "gw"
		}
		s.receive(gateway, m)
		if n := s.storeRows(); n > int(DefaultWindow/DefaultBucket)*17 {
			t.Fatalf("%d rows", n)
		}
	})
}
