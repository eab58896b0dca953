package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// The certificates and token examples/consul/make-certs.sh makes (with
// openssl) work as docs/operations.md says: gatehouse serves its gRPC port
// over mTLS with them, the proxy certificate authenticates as Gateway
// public and gets its HTTPS certificate over SDS, and the admin token
// opens the admin API.
func TestMakeCertsScriptOutputWorks(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		testenv.Missing(t, "openssl is not installed (apt-get install openssl)")
	}
	dir := t.TempDir()
	out, err := exec.Command("sh", "../../examples/consul/make-certs.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("make-certs.sh: %v\n%s", err, out)
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	policy := filepath.Join(dir, "policy")
	for _, c := range []string{"localhost.pem", "localhost-key.pem"} {
		b, err := os.ReadFile(filepath.Join("../../examples/consul/policy/certs", c))
		if err != nil {
			t.Fatal(err)
		}
		writePolicy(t, policy, map[string]string{"certs/" + c: string(b)})
	}
	writePolicy(t, policy, map[string]string{"gateway.yaml": `kind: Gateway
name: public
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
    - name: https
      port: 8443
      protocol: HTTPS
      tls: {certificate: certs/localhost.pem, key: certs/localhost-key.pem}
`})
	g := startGatehouse(t, policy, "--tls-cert", f("gatehouse.pem"), "--tls-key", f("gatehouse-key.pem"),
		"--client-ca", f("ca.pem"), "--admin-tokens", f("admin-tokens"))

	pair, err := tls.LoadX509KeyPair(f("proxy.pem"), f("proxy-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "compose-envoy", Cluster: "public", UserAgentName: "envoy"}, TypeUrl: resourcev3.SecretType}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil || r.GetTypeUrl() != resourcev3.SecretType || len(r.GetResources()) == 0 {
		t.Fatalf("secrets over mTLS with the script's proxy certificate: %v, %v", r, err)
	}

	token, err := os.ReadFile(f("admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+g.AdminAddr+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin API with the script's token: %v %v", resp, err)
	}
	resp.Body.Close()
}
