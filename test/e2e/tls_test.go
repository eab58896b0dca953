package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/xds"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
)

// tlsXDSClient is xdsClient with the bootstrap `gatehouse bootstrap --format
// grpc --tls` prints for the given files (grpc-go's "tls" channel
// credentials, which watch the files with its file_watcher provider).
func tlsXDSClient(t *testing.T, g *gatehouse, gateway, node, host string, tlsArgs ...string) testpb.TestServiceClient {
	t.Helper()
	args := append([]string{"bootstrap", "--format", "grpc", "--gateway", gateway, "--node-id", node, "--xds-addr", g.XDSAddr, "--tls"}, tlsArgs...)
	bootstrap, err := run(t, args...)
	if err != nil {
		t.Fatalf("gatehouse bootstrap: %v\n%s", err, bootstrap)
	}
	rb, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatalf("xDS resolver from bootstrap: %v\n%s", err, bootstrap)
	}
	cc, err := grpc.NewClient("xds:///"+host, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(rb))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// A real grpc-go proxyless client gets its Gateway's routes from `gatehouse
// serve --tls-cert --tls-key --client-ca` over mTLS with the bootstrap
// `gatehouse bootstrap --tls` prints; a client whose certificate names
// another Gateway, one with a certificate of another CA, and a plaintext
// client get nothing, and each refusal is logged and counted.
func TestProxylessClientOverMTLS(t *testing.T) {
	t.Parallel()
	be := startBackend(t, "secure")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": staticService("secure", be),
		"route.yaml": `kind: Route
name: secure
spec:
  gateways: [public]
  hosts: [secure.test]
  backends: [{service: secure}]
`,
	})
	const td = "e2e.example"
	ca := peerauthtest.NewCA(t, "e2e CA")
	srv := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	g := startGatehouse(t, dir, "--tls-cert", srv.Cert, "--tls-key", srv.Key, "--client-ca", srv.CA, "--trust-domain", td)

	files := func(p peerauthtest.Pair, by *peerauthtest.CA) []string {
		f := by.WriteFiles(t, t.TempDir(), p)
		return []string{"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-ca", filepath.Join(srv.Dir, "ca.pem")}
	}
	public := ca.Issue(t, peerauthtest.Leaf{URIs: []string{peerauth.SPIFFEID(td, "public")}})
	c := tlsXDSClient(t, g, "public", "secure-client", "secure.test", files(public, ca)...)
	took := waitFor(t, 20*time.Second, c, "secure")
	t.Logf("first answer over mTLS xDS after %v", took)

	// Another Gateway's certificate claiming node.cluster public.
	other := ca.Issue(t, peerauthtest.Leaf{DNSNames: []string{peerauth.DNSName(td, "other")}})
	spoof := tlsXDSClient(t, g, "public", "spoofer", "secure.test", files(other, ca)...)
	// A certificate of another CA naming the right Gateway.
	foreign := peerauthtest.NewCA(t, "foreign CA")
	wrongCA := tlsXDSClient(t, g, "public", "foreigner", "secure.test", files(foreign.Issue(t, peerauthtest.Leaf{URIs: []string{peerauth.SPIFFEID(td, "public")}}), foreign)...)
	// Plaintext.
	plain := xdsClient(t, g, "public", "plain", "secure.test")
	for name, cl := range map[string]testpb.TestServiceClient{"other gateway": spoof, "wrong CA": wrongCA, "plaintext": plain} {
		if got := call(cl); !strings.HasPrefix(got, "error:") {
			t.Errorf("%s: call answered by %q, want an error", name, got)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	want := []string{
		`gatehouse_peer_calls_refused_total{reason="node_mismatch",service="xds"}`,
		`gatehouse_peer_handshakes_refused_total{reason="unknown_ca"}`,
		`gatehouse_peer_handshakes_refused_total{reason="not_tls"}`,
	}
	for {
		_, metrics := g.Get("/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(metrics, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no %s", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log := g.Log()
	for _, w := range []string{"reason=node_mismatch", "certificate_gateway=other", "reason=unknown_ca", "reason=not_tls"} {
		if !strings.Contains(log, w) {
			t.Errorf("gatehouse log lacks %q", w)
		}
	}
	// The legitimate client still works.
	if got := call(c); got != "secure" {
		t.Fatalf("after the refusals, the mTLS client got %q", got)
	}
}
