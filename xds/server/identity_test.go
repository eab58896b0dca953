package server

import (
	"context"
	"net"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
)

func mtlsAuth(t *testing.T) *peerauth.Auth {
	t.Helper()
	ca := peerauthtest.NewCA(t, "ca")
	f := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	a, err := peerauth.New(peerauth.Config{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA}, peerauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// With mTLS every request's node must name the Gateway of the stream's
// client certificate, on state-of-the-world and delta streams alike, from
// the first request to the last; a stream with no identity is refused when
// it opens. Node changes within the Gateway stay allowed.
func TestNodeMustMatchCertificateGateway(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000}
	asGW := &peer.Peer{Addr: remote, AuthInfo: peerauth.AuthInfo{Gateway: "gw"}}
	node := func(gw, ua string) *corev3.Node { return &corev3.Node{Id: "n", Cluster: gw, UserAgentName: ua} }
	type step struct {
		node *corev3.Node
		ok   bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"own gateway", []step{{node("gw", "envoy"), true}, {nil, true}, {node("gw", "envoy"), true}}},
		{"own gateway, switches to proxyless group", []step{{node("gw", "envoy"), true}, {node("gw", "gRPC Go"), true}}},
		{"other gateway first", []step{{node("other", "envoy"), false}}},
		{"switch to another gateway later", []step{{node("gw", "envoy"), true}, {node("other", "envoy"), false}}},
		{"empty cluster", []step{{node("", "envoy"), false}}},
		{"prefix of the name", []step{{node("g", "envoy"), false}}},
		{"name with suffix", []step{{node("gw ", "envoy"), false}}},
		{"no node first", []step{{nil, false}}},
	}
	for _, proto := range []string{protoSotW, protoDelta} {
		for _, c := range cases {
			t.Run(proto+" "+c.name, func(t *testing.T) {
				tr := newTracker(newTestPublisher(t), mustMetrics(t))
				tr.auth = mtlsAuth(t)
				ctx := peer.NewContext(context.Background(), asGW)
				if err := tr.open(ctx, 1, resource.AnyType, proto); err != nil {
					t.Fatal(err)
				}
				for i, s := range c.steps {
					var err error
					if proto == protoSotW {
						err = tr.OnStreamRequest(1, &discoveryv3.DiscoveryRequest{Node: s.node, TypeUrl: resource.ListenerType})
					} else {
						err = tr.OnStreamDeltaRequest(1, &discoveryv3.DeltaDiscoveryRequest{Node: s.node, TypeUrl: resource.ListenerType})
					}
					if s.ok != (err == nil) || (err != nil && status.Code(err) != codes.PermissionDenied) {
						t.Fatalf("request %d (node %v): %v, want ok=%v or PermissionDenied", i, s.node, err, s.ok)
					}
				}
			})
		}
	}
	// Streams without an identity are refused when they open.
	for _, p := range []*peer.Peer{nil, {Addr: remote}, {Addr: remote, AuthInfo: peerauth.AuthInfo{}}} {
		tr := newTracker(newTestPublisher(t), mustMetrics(t))
		tr.auth = mtlsAuth(t)
		ctx := context.Background()
		if p != nil {
			ctx = peer.NewContext(ctx, p)
		}
		if err := tr.open(ctx, 1, resource.AnyType, protoSotW); status.Code(err) != codes.PermissionDenied {
			t.Errorf("peer %v: open = %v, want PermissionDenied", p, err)
		}
		if err := tr.OnStreamRequest(2, &discoveryv3.DiscoveryRequest{Node: node("gw", "envoy"), TypeUrl: resource.SecretType}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("request on a stream never opened: %v, want PermissionDenied", err)
		}
	}
}

func mustMetrics(t *testing.T) *serverMetrics {
	t.Helper()
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
