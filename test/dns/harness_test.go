package dnsproc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }

type gatehouse struct {
	*gatehouseproc.Proc
	t *testing.T
}

// launch starts `gatehouse serve` asking dnsAddr for discovery.dns names.
func launch(t *testing.T, policyDir, dnsAddr string) *gatehouse {
	t.Helper()
	return &gatehouse{Proc: gatehouseproc.Start(t, gatehouseBin, "--policy-dir", policyDir, "--dns-server", dnsAddr), t: t}
}

// dnsStatus is the part of /api/v1/status the tests look at.
type dnsStatus struct {
	Ready bool `json:"ready"`
	DNS   *struct {
		Reachable bool         `json:"reachable"`
		LastError string       `json:"last_error"`
		Synced    bool         `json:"synced"`
		Services  []dnsService `json:"services"`
	} `json:"dns"`
}

type dnsService struct {
	Name      string    `json:"name"`
	Endpoints int       `json:"endpoints"`
	TTL       string    `json:"ttl"`
	Next      time.Time `json:"next_resolve"`
	State     string    `json:"state"`
}

func (st dnsStatus) only() (dnsService, bool) {
	if st.DNS == nil || len(st.DNS.Services) != 1 {
		return dnsService{}, false
	}
	return st.DNS.Services[0], true
}

// policy is a Gateway, a GRPC Service discovered from the DNS name
// NAME.test. with port, and a Route for NAME.example.
func policy(name string, port int, extra string) string {
	return fmt.Sprintf(`kind: Gateway
name: public
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: %[1]s
spec:
  protocol: GRPC
  discovery:
    dns: {name: %[1]s.test, port: %[2]d%[3]s}
---
kind: Route
name: %[1]s
spec:
  gateways: [public]
  hosts: [%[1]s.example]
  backends: [{service: %[1]s}]
`, name, port, extra)
}

func writePolicy(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// backends starts one gRPC backend per name on 127.0.0.2, 127.0.0.3, ...,
// all on one port (a DNS name's addresses share the cluster's port), and
// returns that port.
func backends(t *testing.T, names ...string) int {
	t.Helper()
	port := 0
	for i, n := range names {
		b := gatehouseproc.StartBackendAt(t, n, fmt.Sprintf("127.0.0.%d:%d", i+2, port))
		port = b.Port
	}
	return port
}

func xdsClient(t *testing.T, g *gatehouse, node, host string) testpb.TestServiceClient {
	t.Helper()
	return gatehouseproc.XDSClient(t, gatehouseBin, g.XDSAddr, "public", node, host)
}

func (g *gatehouse) status() dnsStatus { return gatehouseproc.Status[dnsStatus](g.t, g.Proc) }

// waitStatus polls the status until ok holds, or fails past bound.
func (g *gatehouse) waitStatus(what string, bound time.Duration, ok func(dnsStatus) bool) time.Duration {
	g.t.Helper()
	return gatehouseproc.WaitStatus(g.t, g.Proc, what, bound, ok)
}
