package server

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
)

// Private keys go only to proxies on loopback or over a TLS xDS connection:
// any other stream's secrets requests are rewritten to a name no snapshot
// has (the ADS cache then sends nothing), whatever they name (the legacy
// wildcard, "*", names, a mix), and its status says why. Other types are
// untouched.
func TestSecretsWithheldOffLoopback(t *testing.T) {
	pub, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(pub, m)
	remote := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000}
	const withheldTail = ", not loopback, without a client certificate naming its Gateway, so its HTTPS listeners get no certificate and keep warming; " +
		"connect it to gatehouse's xDS port over loopback (same host or pod), " +
		"or serve xDS with mTLS (--tls-cert, --tls-key, --client-ca) and give it a client certificate of its Gateway (docs/operations.md)"
	cases := []struct {
		name     string
		peer     *peer.Peer
		withheld bool
		warning  string
	}{
		{"loopback v4", &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}}, false, ""},
		{"loopback v6", &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}}, false, ""},
		{"remote plaintext", &peer.Peer{Addr: remote}, true, "TLS secrets withheld: this proxy connects from 10.1.2.3:40000" + withheldTail},
		// TLS alone is not enough: anyone can open a TLS connection.
		{"remote over TLS", &peer.Peer{Addr: remote, AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{}}}, true, "TLS secrets withheld: this proxy connects from 10.1.2.3:40000" + withheldTail},
		{"remote over TLS, unauthenticated", &peer.Peer{Addr: remote, AuthInfo: peerauth.AuthInfo{}}, true, "TLS secrets withheld: this proxy connects from 10.1.2.3:40000" + withheldTail},
		{"remote over mTLS as gw", &peer.Peer{Addr: remote, AuthInfo: peerauth.AuthInfo{Gateway: "gw"}}, false, ""},
		{"no peer", nil, true, "TLS secrets withheld: this proxy connects from an unknown address" + withheldTail},
	}
	shapes := [][]string{nil, {}, {"*"}, {"tls/gw/https"}, {"tls/gw/https", "*"}, {"*", "unknown"}}
	id := int64(0)
	for _, c := range cases {
		for _, names := range shapes {
			id++
			ctx := context.Background()
			if c.peer != nil {
				ctx = peer.NewContext(ctx, c.peer)
			}
			if err := tr.OnStreamOpen(ctx, id, resource.AnyType); err != nil {
				t.Fatal(err)
			}
			node := &corev3.Node{Id: c.name, Cluster: "gw", UserAgentName: "envoy"}
			sec := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.SecretType, ResourceNames: slices.Clone(names)}
			lds := &discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType}
			if err := tr.OnStreamRequest(id, lds); err != nil {
				t.Fatal(err)
			}
			if err := tr.OnStreamRequest(id, sec); err != nil {
				t.Fatal(err)
			}
			gotWithheld := len(sec.ResourceNames) == 1 && sec.ResourceNames[0] == withheldSecret
			if gotWithheld != c.withheld {
				t.Errorf("%s %q: secrets request names %v, withheld = %v, want %v", c.name, names, sec.ResourceNames, gotWithheld, c.withheld)
			}
			if len(lds.ResourceNames) != 0 {
				t.Errorf("%s: listener request rewritten: %v", c.name, lds.ResourceNames)
			}
			var warning string
			for _, p := range tr.Proxies() {
				if p.NodeID == c.name {
					warning = p.Warning
				}
			}
			if warning != c.warning {
				t.Errorf("%s %q: status warning %q, want %q", c.name, names, warning, c.warning)
			}
			tr.OnStreamClosed(id, node)
		}
	}
}

// A request on a stream the tracker never saw open is treated as off
// loopback: its secrets are withheld.
func TestSecretsWithheldOnUnknownStream(t *testing.T) {
	pub, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newServerMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(pub, m)
	req := &discoveryv3.DiscoveryRequest{TypeUrl: resource.SecretType}
	if err := tr.OnStreamRequest(99, req); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(req.ResourceNames, []string{withheldSecret}) {
		t.Fatalf("names %v", req.ResourceNames)
	}
}
