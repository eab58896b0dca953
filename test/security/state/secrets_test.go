// Package security_state holds the attacker's-view tests of gatehouse's
// state handling: which proxies get TLS private keys, and what a policy edit
// can take away from a served route.
package security_state

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// secretShapes are the resource-name lists a client can put in a Secret
// request: the legacy wildcard (empty), the explicit wildcard, names, and
// mixes. names are the secrets the gateway really has.
func secretShapes(names []string) map[string][]string {
	return map[string][]string{
		"empty (legacy wildcard)": nil,
		"explicit wildcard":       {"*"},
		"named":                   names,
		"named and wildcard":      append(append([]string{}, names...), "*"),
		"wildcard and unknown":    {"*", "no-such-secret"},
		"one name":                names[:1],
	}
}

// xdsServer serves one HTTPS gateway's snapshot over ADS on a real gRPC
// server listening on addr, as "gatehouse serve" wires it (GRPCServerOptions
// and Register). If fakePeer is set, a stream interceptor makes every stream
// look as if it came from that address: the server's own peer check then
// decides, on the peer grpc-go hands it.
func xdsServer(t *testing.T, addr string, fakePeer net.Addr) (string, *server.Server) {
	t.Helper()
	return xdsServerAuth(t, addr, fakePeer, nil)
}

// xdsServerAuth is xdsServer with the gRPC port's TLS as "gatehouse serve
// --tls-cert" wires it (auth nil: plaintext). A fake peer keeps the
// connection's real authentication.
func xdsServerAuth(t *testing.T, addr string, fakePeer net.Addr, auth *peerauth.Auth) (string, *server.Server) {
	t.Helper()
	dir := httpsPolicyDir(t)
	snap := policy.LoadDir(dir, nil)
	if len(snap.Rejected) != 0 {
		t.Fatalf("policy: %q", snap.Errors())
	}
	var b controller.Builder
	res, err := b.Build(snap, static.Endpoints(snap), true)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := pub.Publish(ctx, res.Groups, res.CLAs, res.CLAHashes); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(ctx, pub, server.Options{Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	opts := server.GRPCServerOptions()
	if fakePeer != nil {
		opts = append(opts, grpc.ChainStreamInterceptor(func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			fake := &peer.Peer{Addr: fakePeer}
			if real, ok := peer.FromContext(ss.Context()); ok {
				fake.AuthInfo = real.AuthInfo
			}
			return h(s, peerStream{ServerStream: ss, ctx: peer.NewContext(ss.Context(), fake)})
		}))
	}
	if auth != nil {
		opts = append(opts, grpc.Creds(auth.Credentials()), grpc.ChainStreamInterceptor(auth.StreamInterceptor()))
	}
	g := grpc.NewServer(opts...)
	srv.Register(g)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String(), srv
}

type peerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (p peerStream) Context() context.Context { return p.ctx }

// nonLoopbackAddr is a local, non-loopback IP address of this machine, or
// "" if it has none.
func nonLoopbackAddr(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// adsClient is a raw ADS stream of one node.
type adsClient struct {
	t    *testing.T
	st   discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	resp chan *discoveryv3.DiscoveryResponse
	node *corev3.Node
	err  error // why the stream ended
}

func dialADS(t *testing.T, addr, nodeID string) *adsClient {
	t.Helper()
	return dialADSWith(t, addr, nodeID, insecure.NewCredentials())
}

// dialADSWith is dialADS over creds.
func dialADSWith(t *testing.T, addr, nodeID string, creds credentials.TransportCredentials) *adsClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cc.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &adsClient{t: t, st: st, resp: make(chan *discoveryv3.DiscoveryResponse, 16),
		node: &corev3.Node{Id: nodeID, Cluster: "edge", UserAgentName: "envoy"}}
	go func() {
		defer close(c.resp)
		for {
			r, err := st.Recv()
			if err != nil {
				c.err = err // read after resp is closed
				return
			}
			c.resp <- r
		}
	}()
	return c
}

func (c *adsClient) send(typeURL string, names []string) {
	c.t.Helper()
	req := &discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: typeURL, ResourceNames: names}
	if err := c.st.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// next waits up to d for a response of typeURL (others are skipped).
func (c *adsClient) next(typeURL string, d time.Duration) *discoveryv3.DiscoveryResponse {
	timeout := time.After(d)
	for {
		select {
		case r, ok := <-c.resp:
			if !ok {
				return nil
			}
			if r.GetTypeUrl() == typeURL {
				return r
			}
		case <-timeout:
			return nil
		}
	}
}

// secretNames asks a loopback stream for every secret (the control: the
// gateway has secrets, and a permitted peer gets them).
func secretNames(t *testing.T, addr string) []string {
	t.Helper()
	c := dialADS(t, addr, "control")
	c.send(resource.SecretType, nil)
	r := c.next(resource.SecretType, 5*time.Second)
	if r == nil || len(r.Resources) == 0 {
		t.Fatalf("control: a loopback proxy got no secrets: %v", r)
	}
	names := make([]string, len(r.Resources))
	for i, a := range r.Resources {
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil || s.GetName() == "" {
			t.Fatalf("secret %d: %v", i, err)
		}
		names[i] = s.GetName()
	}
	return names
}

// assertWithheld sends every request shape on its own stream from a peer
// that may not get secrets and checks that no Secret response arrives,
// while the same stream still gets its listeners (so silence is not a dead
// stream), and that status names the proxy and says why.
func assertWithheld(t *testing.T, addr string, srv *server.Server, names []string) {
	t.Helper()
	assertWithheldWith(t, addr, srv, names, insecure.NewCredentials())
}

// assertWithheldWith is assertWithheld over creds.
func assertWithheldWith(t *testing.T, addr string, srv *server.Server, names []string, creds credentials.TransportCredentials) {
	t.Helper()
	for shape, req := range secretShapes(names) {
		id := "off-loopback " + shape
		c := dialADSWith(t, addr, id, creds)
		c.send(resource.ListenerType, nil)
		if r := c.next(resource.ListenerType, 5*time.Second); r == nil || len(r.Resources) == 0 {
			t.Fatalf("%s: no listeners: %v", shape, r)
		}
		c.send(resource.SecretType, req)
		if r := c.next(resource.SecretType, 500*time.Millisecond); r != nil {
			t.Errorf("%s: secrets sent off loopback: %d resources", shape, len(r.Resources))
		}
		found := false
		for _, p := range srv.Proxies() {
			if p.NodeID == id {
				found = true
				if !strings.Contains(p.Warning, "TLS secrets withheld") || p.Address == "" || !strings.Contains(p.Warning, p.Address) ||
					p.Types[server.TypeSecrets].Sent != "" {
					t.Errorf("%s: status %+v", shape, p)
				}
			}
		}
		if !found {
			t.Errorf("%s: proxy missing from status", shape)
		}
	}
	// Every shape in turn on one stream: a later request must not undo
	// the withholding of an earlier one.
	c := dialADSWith(t, addr, "off-loopback sequence", creds)
	c.send(resource.ListenerType, nil)
	if r := c.next(resource.ListenerType, 5*time.Second); r == nil {
		t.Fatal("sequence: no listeners")
	}
	for _, req := range [][]string{names, nil, {"*"}, append([]string{"*"}, names...), {}} {
		c.send(resource.SecretType, req)
	}
	if r := c.next(resource.SecretType, 500*time.Millisecond); r != nil {
		t.Errorf("sequence: secrets sent off loopback: %d resources", len(r.Resources))
	}
}

// A proxy connecting from a non-loopback address of this machine over
// plaintext xDS gets no Secret, whatever its request names. The peer
// address is real: the server listens on the machine's own non-loopback
// address, so the kernel gives the connection that source address.
func TestSecretsWithheldFromRealNonLoopbackPeer(t *testing.T) {
	ip := nonLoopbackAddr(t)
	if ip == "" {
		t.Skip("this machine has no non-loopback IPv4 address; TestSecretsWithheldFromInjectedPeer covers the check")
	}
	addr, srv := xdsServer(t, net.JoinHostPort(ip, "0"), nil)
	// The control needs a loopback peer: a second server for it.
	loop, _ := xdsServer(t, "127.0.0.1:0", nil)
	names := secretNames(t, loop)
	assertWithheld(t, addr, srv, names)
}

// The same with the peer address injected by a gRPC interceptor, for
// machines without a non-loopback address: the server's own peer check runs
// on the peer grpc-go hands to the stream, as in production; only the
// address differs. Loopback and unix-socket peers are the control.
func TestSecretsWithheldFromInjectedPeer(t *testing.T) {
	for _, fake := range []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40000},
		&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 40000},
		&net.TCPAddr{IP: net.IPv4zero, Port: 40000},
	} {
		t.Run(fake.String(), func(t *testing.T) {
			t.Parallel() // mostly waiting for responses that must not come
			addr, srv := xdsServer(t, "127.0.0.1:0", fake)
			loop, _ := xdsServer(t, "127.0.0.1:0", nil)
			assertWithheld(t, addr, srv, secretNames(t, loop))
		})
	}
	// Control: the interceptor itself does not stop secrets.
	addr, _ := xdsServer(t, "127.0.0.1:0", &net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 1})
	secretNames(t, addr)
}

// deltaClient is a raw delta ADS stream of one node.
type deltaClient struct {
	t     *testing.T
	st    discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resp  chan *discoveryv3.DeltaDiscoveryResponse
	node  *corev3.Node
	first bool
	err   error // why the stream ended
}

func dialDelta(t *testing.T, addr, nodeID string) *deltaClient {
	t.Helper()
	return dialDeltaWith(t, addr, nodeID, insecure.NewCredentials())
}

// dialDeltaWith is dialDelta over creds.
func dialDeltaWith(t *testing.T, addr, nodeID string, creds credentials.TransportCredentials) *deltaClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cc.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &deltaClient{t: t, st: st, resp: make(chan *discoveryv3.DeltaDiscoveryResponse, 16), first: true,
		node: &corev3.Node{Id: nodeID, Cluster: "edge", UserAgentName: "envoy"}}
	go func() {
		defer close(c.resp)
		for {
			r, err := st.Recv()
			if err != nil {
				c.err = err // read after resp is closed
				return
			}
			c.resp <- r
		}
	}()
	return c
}

func (c *deltaClient) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.t.Helper()
	if c.first {
		req.Node = c.node
		c.first = false
	}
	if err := c.st.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// next waits up to d for a response of typeURL (others are skipped) and
// ACKs it.
func (c *deltaClient) next(typeURL string, d time.Duration) *discoveryv3.DeltaDiscoveryResponse {
	timeout := time.After(d)
	for {
		select {
		case r, ok := <-c.resp:
			if !ok {
				return nil
			}
			c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()})
			if r.GetTypeUrl() == typeURL {
				return r
			}
		case <-timeout:
			return nil
		}
	}
}

// deltaSecretShapes are the secrets requests a delta client can make, each
// a sequence on one stream: the subscribe lists of secretShapes, and the
// delta-only ways of asking: initial_resource_versions claiming (stale
// versions of) the secrets, unsubscribing the name gatehouse substitutes,
// and toggling the wildcard off and on.
func deltaSecretShapes(names []string) map[string][]*discoveryv3.DeltaDiscoveryRequest {
	out := map[string][]*discoveryv3.DeltaDiscoveryRequest{}
	for shape, sub := range secretShapes(names) {
		out[shape] = []*discoveryv3.DeltaDiscoveryRequest{{TypeUrl: resource.SecretType, ResourceNamesSubscribe: sub}}
	}
	stale := map[string]string{}
	for _, n := range names {
		stale[n] = "stale"
	}
	out["initial versions, legacy wildcard"] = []*discoveryv3.DeltaDiscoveryRequest{{TypeUrl: resource.SecretType, InitialResourceVersions: stale}}
	out["initial versions, named"] = []*discoveryv3.DeltaDiscoveryRequest{{TypeUrl: resource.SecretType, ResourceNamesSubscribe: names, InitialResourceVersions: stale}}
	out["unsubscribe the substitute"] = []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resource.SecretType, ResourceNamesSubscribe: names},
		{TypeUrl: resource.SecretType, ResourceNamesUnsubscribe: []string{"gatehouse/secrets-withheld", "*"}},
		{TypeUrl: resource.SecretType},
	}
	out["wildcard off and on"] = []*discoveryv3.DeltaDiscoveryRequest{
		{TypeUrl: resource.SecretType, ResourceNamesSubscribe: []string{"*"}},
		{TypeUrl: resource.SecretType, ResourceNamesUnsubscribe: []string{"*"}},
		{TypeUrl: resource.SecretType, ResourceNamesSubscribe: append([]string{"*"}, names...)},
	}
	return out
}

// Delta xDS withholds secrets as state of the world does, for every
// request shape; a loopback delta stream (the control) gets them.
func TestSecretsWithheldFromDeltaStreams(t *testing.T) {
	loop, _ := xdsServer(t, "127.0.0.1:0", nil)
	names := secretNames(t, loop)
	ctl := dialDelta(t, loop, "delta control")
	ctl.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.SecretType})
	if r := ctl.next(resource.SecretType, 5*time.Second); r == nil || len(r.Resources) != len(names) {
		t.Fatalf("control: a loopback delta stream got %v, want %d secrets", r, len(names))
	}

	addr, srv := xdsServer(t, "127.0.0.1:0", &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000})
	for shape, reqs := range deltaSecretShapes(names) {
		t.Run(shape, func(t *testing.T) {
			t.Parallel() // mostly waiting for responses that must not come
			id := "delta off-loopback " + shape
			c := dialDelta(t, addr, id)
			c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType})
			if r := c.next(resource.ListenerType, 5*time.Second); r == nil || len(r.Resources) == 0 {
				t.Fatalf("no listeners: %v", r)
			}
			for _, req := range reqs {
				c.send(req)
			}
			if r := c.next(resource.SecretType, 500*time.Millisecond); r != nil {
				t.Fatalf("secrets sent off loopback: %d resources, removed %v", len(r.Resources), r.RemovedResources)
			}
			for _, p := range srv.Proxies() {
				if p.NodeID == id {
					if p.Protocol != "delta" || !strings.Contains(p.Warning, "TLS secrets withheld") || !strings.Contains(p.Warning, p.Address) ||
						p.Types[server.TypeSecrets].Sent != "" {
						t.Errorf("status %+v", p)
					}
					return
				}
			}
			t.Error("proxy missing from status")
		})
	}
}

// The gatehouse binary itself, serving xDS on this machine's non-loopback
// address: a wildcard Secret request from that address gets nothing, and
// gatehouse status names the proxy, its address and what to do.
func TestServeWithholdsSecretsOffLoopback(t *testing.T) {
	ip := nonLoopbackAddr(t)
	if ip == "" {
		t.Skip("this machine has no non-loopback IPv4 address")
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	xdsAddr := lis.Addr().String()
	lis.Close()
	p := gatehouseproc.Start(t, gatehouseBin, "--policy-dir", httpsPolicyDir(t), "--xds-addr", xdsAddr)
	p.WaitReady(30 * time.Second)

	c := dialADS(t, xdsAddr, "remote-envoy")
	c.send(resource.ListenerType, nil)
	if r := c.next(resource.ListenerType, 5*time.Second); r == nil || len(r.Resources) == 0 {
		t.Fatalf("no listeners: %v", r)
	}
	c.send(resource.SecretType, nil)
	if r := c.next(resource.SecretType, time.Second); r != nil {
		t.Fatalf("gatehouse serve sent %d secrets to %s", len(r.Resources), ip)
	}
	// No other type carries a key inline either.
	for _, typ := range []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType} {
		o := dialADS(t, xdsAddr, "remote-envoy-"+typ)
		o.send(typ, nil)
		r := o.next(typ, 5*time.Second)
		if r == nil {
			t.Fatalf("%s: no response", typ)
		}
		for _, a := range r.Resources {
			if bytes.Contains(a.GetValue(), []byte("PRIVATE KEY")) {
				t.Errorf("%s: a resource carries a private key inline", typ)
			}
		}
	}
	out, err := gatehouseproc.Run(gatehouseBin, "status", "--server", p.AdminAddr)
	if err != nil || !strings.Contains(out, "remote-envoy: TLS secrets withheld: this proxy connects from "+ip+":") ||
		!strings.Contains(out, "connect it to gatehouse's xDS port over loopback") || !strings.Contains(out, "--client-ca") {
		t.Fatalf("gatehouse status (err %v):\n%s", err, out)
	}
}
