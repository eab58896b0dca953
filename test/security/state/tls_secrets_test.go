package security_state

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
)

// offLoopback is where the TLS servers of these tests listen and which peer
// address they see: this machine's own non-loopback address when it has
// one (a real peer), else loopback with the peer address injected (the
// connection's TLS authentication is kept).
func offLoopback(t *testing.T) (listen string, fake net.Addr) {
	if ip := nonLoopbackAddr(t); ip != "" {
		return net.JoinHostPort(ip, "0"), nil
	}
	return "127.0.0.1:0", &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000}
}

type tlsFixture struct {
	ca   *peerauthtest.CA
	pool *x509.CertPool
	srv  peerauthtest.Files
}

func newTLSFixture(t *testing.T) *tlsFixture {
	ca := peerauthtest.NewCA(t, "state CA")
	srv := ca.Issue(t, peerauthtest.Leaf{Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}})
	if ip := nonLoopbackAddr(t); ip != "" {
		srv = ca.Issue(t, peerauthtest.Leaf{Server: true, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(ip)}})
	}
	return &tlsFixture{ca: ca, pool: ca.Pool(), srv: ca.WriteFiles(t, t.TempDir(), srv)}
}

func (f *tlsFixture) auth(t *testing.T, mtls bool) *peerauth.Auth {
	cfg := peerauth.Config{CertFile: f.srv.Cert, KeyFile: f.srv.Key}
	if mtls {
		cfg.ClientCAFile = f.srv.CA
	}
	a, err := peerauth.New(cfg, peerauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *tlsFixture) client(certs ...tls.Certificate) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: f.pool, Certificates: certs})
}

func (f *tlsFixture) gatewayCert(t *testing.T, gw string) tls.Certificate {
	return f.ca.Issue(t, peerauthtest.Leaf{URIs: []string{peerauth.SPIFFEID(peerauth.DefaultTrustDomain, gw)}}).TLS
}

// TLS without client certificates is not enough for private keys: a TLS
// proxy off loopback with no client certificate gets no Secret, whatever
// its request names, over state of the world and delta alike.
func TestSecretsWithheldFromTLSPeerWithoutClientCert(t *testing.T) {
	f := newTLSFixture(t)
	loop, _ := xdsServer(t, "127.0.0.1:0", nil)
	names := secretNames(t, loop)
	listen, fake := offLoopback(t)
	addr, srv := xdsServerAuth(t, listen, fake, f.auth(t, false))
	assertWithheldWith(t, addr, srv, names, f.client())
	for shape, reqs := range deltaSecretShapes(names) {
		c := dialDeltaWith(t, addr, "delta tls "+shape, f.client())
		c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType})
		if r := c.next(resource.ListenerType, 5*time.Second); r == nil || len(r.Resources) == 0 {
			t.Fatalf("%s: no listeners: %v", shape, r)
		}
		for _, req := range reqs {
			c.send(req)
		}
		if r := c.next(resource.SecretType, 300*time.Millisecond); r != nil {
			t.Errorf("%s: delta secrets sent to a TLS peer without a client certificate: %d", shape, len(r.Resources))
		}
	}
}

// With mTLS a proxy of the owning Gateway gets its secrets from off
// loopback (the control); a proxy whose certificate names another Gateway
// is refused with PermissionDenied at its first request naming the owner,
// whatever it asks for, on either protocol, and gets nothing.
func TestSecretsOverMTLSOnlyForOwningGateway(t *testing.T) {
	f := newTLSFixture(t)
	listen, fake := offLoopback(t)
	addr, _ := xdsServerAuth(t, listen, fake, f.auth(t, true))

	owner := dialADSWith(t, addr, "owner", f.client(f.gatewayCert(t, "edge")))
	owner.send(resource.SecretType, nil)
	r := owner.next(resource.SecretType, 5*time.Second)
	if r == nil || len(r.Resources) == 0 {
		t.Fatalf("the owning Gateway's proxy got no secrets over mTLS: %v", r)
	}
	names := secretNames(t, mustLoop(t))

	other := f.client(f.gatewayCert(t, "other"))
	for shape, req := range secretShapes(names) {
		c := dialADSWith(t, addr, "spoof "+shape, other) // node.cluster "edge"
		c.send(resource.SecretType, req)
		if r := c.next(resource.SecretType, 300*time.Millisecond); r != nil {
			t.Errorf("%s: another Gateway's proxy got %d secrets", shape, len(r.Resources))
		}
		if err := endOf(c.resp, &c.err); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: stream ended with %v, want PermissionDenied", shape, err)
		}
	}
	for shape, reqs := range deltaSecretShapes(names) {
		c := dialDeltaWith(t, addr, "delta spoof "+shape, other)
		for _, req := range reqs {
			req := req
			if err := c.st.Send(withNode(req, c)); err != nil {
				break // the server already ended the stream
			}
		}
		if r := c.next(resource.SecretType, 300*time.Millisecond); r != nil {
			t.Errorf("delta %s: another Gateway's proxy got %d secrets", shape, len(r.Resources))
		}
		if err := endOf(c.resp, &c.err); status.Code(err) != codes.PermissionDenied {
			t.Errorf("delta %s: stream ended with %v, want PermissionDenied", shape, err)
		}
	}
	// Switching node mid-stream: the owner's stream cannot become another
	// Gateway's, nor another Gateway's stream the owner's.
	sw := dialADSWith(t, addr, "switcher", f.client(f.gatewayCert(t, "other")))
	sw.node.Cluster = "other"
	sw.send(resource.ListenerType, nil)
	sw.node.Cluster = "edge"
	sw.send(resource.SecretType, nil)
	if r := sw.next(resource.SecretType, 300*time.Millisecond); r != nil {
		t.Errorf("a stream that switched node to edge got %d secrets", len(r.Resources))
	}
	if err := endOf(sw.resp, &sw.err); status.Code(err) != codes.PermissionDenied {
		t.Errorf("node switch: stream ended with %v, want PermissionDenied", err)
	}
}

// endOf waits (bounded) for a stream's receive loop to end and returns
// why it ended.
func endOf[R any](resp chan R, err *error) error {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-resp:
			if !ok {
				return *err
			}
		case <-timeout:
			return nil
		}
	}
}

func mustLoop(t *testing.T) string {
	loop, _ := xdsServer(t, "127.0.0.1:0", nil)
	return loop
}

// withNode puts the client's node on its first request, as deltaClient.send
// does, without failing the test when the server already closed the stream.
func withNode(req *discoveryv3.DeltaDiscoveryRequest, c *deltaClient) *discoveryv3.DeltaDiscoveryRequest {
	if c.first {
		req.Node = c.node
		c.first = false
	}
	return req
}
