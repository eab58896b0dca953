package server

import (
	"context"
	"net"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/peer"
)

// otherAddr is a transport address that is neither TCP nor a Unix socket
// (an in-memory pipe, a custom dialer): nothing says it is local.
type otherAddr struct{}

func (otherAddr) Network() string { return "pipe" }
func (otherAddr) String() string  { return "pipe" }

// Which peers may receive private keys, by address kind: loopback TCP and
// Unix sockets are local; any other address, or none, is not (fail closed).
// Killed mutants (make mutate-security): "return true" for a Unix socket,
// "return false" for an unknown address kind.
func TestSecretsAllowedByAddressKind(t *testing.T) {
	cases := []struct {
		name string
		peer *peer.Peer
		want bool
	}{
		{"unix socket", &peer.Peer{Addr: &net.UnixAddr{Name: "/run/gatehouse/xds.sock", Net: "unix"}}, true},
		{"loopback", &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}, true},
		{"remote", &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}}, false},
		{"unspecified address", &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4zero}}, false},
		{"other address kind", &peer.Peer{Addr: otherAddr{}}, false},
		{"no address", &peer.Peer{}, false},
		{"no peer", nil, false},
	}
	for _, c := range cases {
		if got := secretsAllowed(c.peer); got != c.want {
			t.Errorf("%s: secretsAllowed = %v, want %v", c.name, got, c.want)
		}
	}
}

// A remote proxy that asks for no secrets (no HTTPS listener) has nothing
// withheld: its requests are untouched and its status carries no warning.
// The warning appears with its first secrets request. Killed mutant:
// withholdSecrets reporting a rewrite of a request of another type.
func TestSecretsWarningOnlyWhenSecretsRequested(t *testing.T) {
	pub, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(pub, m)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}})
	if err := tr.OnStreamOpen(ctx, 1, resource.AnyType); err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "remote", Cluster: "gw", UserAgentName: "envoy"}
	warning := func() string {
		for _, p := range tr.Proxies() {
			if p.NodeID == "remote" {
				return p.Warning
			}
		}
		t.Fatal("proxy not in status")
		return ""
	}
	for _, typ := range []string{resource.ListenerType, resource.ClusterType, resource.RouteType, resource.EndpointType} {
		req := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typ, ResourceNames: []string{"a"}}
		if err := tr.OnStreamRequest(1, req); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(req.ResourceNames, []string{"a"}) {
			t.Errorf("%s request rewritten to %v", typ, req.ResourceNames)
		}
		if w := warning(); w != "" {
			t.Errorf("after a %s request: warning %q, want none", typ, w)
		}
	}
	sec := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.SecretType}
	if err := tr.OnStreamRequest(1, sec); err != nil {
		t.Fatal(err)
	}
	if w, want := warning(), secretsWithheldNote("192.0.2.7:4000"); w != want {
		t.Errorf("after a secrets request: warning %q, want %q", w, want)
	}
}
