package server

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A Gateway that is removed and later defined again reaches the proxies
// that stayed connected meanwhile, over both protocols: removing a group
// must not leave their streams waiting on watches nobody answers. A
// state-of-the-world stream may be ended on removal (the proxy keeps its
// configuration and reconnects, as Envoy and grpc-go do); it then gets the
// new configuration on its new stream.
func TestRemovedGatewayComesBackToConnectedProxies(t *testing.T) {
	for _, kind := range []translate.ClientKind{translate.ClientEnvoy, translate.ClientGRPC} {
		t.Run(string(kind)+"/sotw", func(t *testing.T) {
			h := newHarness(t)
			f := newFixture("gw", kind, 1, 1)
			mustPublish(t, h.pub, f.groups(), f.clas)
			ua := "envoy"
			if kind == translate.ClientGRPC {
				ua = "gRPC Go"
			}
			s := h.open(t, "p1", "gw", ua)
			s.send(resource.ClusterType, nil, "", "")
			r := s.recv(resource.ClusterType)
			s.ack(r, nil)
			held := r.GetVersionInfo()
			// The ACK is in, so the stream's next watch is open before
			// the removal.
			waitFor(t, "the ACK", func() bool {
				p, ok := h.proxy("p1")
				return ok && p.Types["clusters"].Acked == held
			})

			h.pub.Remove(f.key)
			closed := false
			select {
			case _, ok := <-s.resp:
				if ok {
					t.Fatal("a response after the Gateway was removed")
				}
				closed = true
				// The proxy is told why (its log shows it), not given an
				// OK that reads as a normal end.
				if st, _ := status.FromError(s.err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), `gateway "gw" was removed`) {
					t.Fatalf("the stream ended with %v, want Unavailable saying the gateway was removed", s.err)
				}
			case <-time.After(300 * time.Millisecond):
			}

			back := newFixture("gw", kind, 2, 1)
			start := time.Now()
			mustPublish(t, h.pub, back.groups(), back.clas)
			if closed {
				// Reconnect as a proxy does, with the version it holds.
				s = h.open(t, "p1", "gw", ua)
				s.send(resource.ClusterType, nil, held, "")
			}
			r = s.recv(resource.ClusterType)
			if n := len(r.GetResources()); n != 2 {
				t.Fatalf("after the Gateway came back: %d clusters, want 2", n)
			}
			t.Logf("the Gateway's new configuration reached the proxy %v after it was published (stream ended on removal: %v)", time.Since(start), closed)
		})
	}
	t.Run("envoy/delta", func(t *testing.T) {
		h := newHarness(t)
		f := newFixture("gw", translate.ClientEnvoy, 1, 1)
		mustPublish(t, h.pub, f.groups(), f.clas)
		d := h.openDelta(t, "d1", "gw")
		d.subscribe(resource.ClusterType)
		wantNames(t, "initial CDS", deltaNames(d.recv(resource.ClusterType)), clusterName(0))

		h.pub.Remove(f.key)
		d.expectNone(300 * time.Millisecond)

		back := newFixture("gw", translate.ClientEnvoy, 2, 1)
		mustPublish(t, h.pub, back.groups(), back.clas)
		wantNames(t, "CDS after the Gateway came back", deltaNames(d.recv(resource.ClusterType)), clusterName(1))
	})
}
