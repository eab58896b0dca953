// Package e2e runs the gatehouse binary as a real process against real gRPC
// backends and real grpc-go xDS clients, and asserts on what a user sees:
// which backend answered, how fast a change arrived, what status reports.
package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }

// gatehouse is a running `gatehouse serve` process.
type gatehouse = gatehouseproc.Proc

func startGatehouse(t *testing.T, policyDir string, extraArgs ...string) *gatehouse {
	t.Helper()
	g := gatehouseproc.Start(t, gatehouseBin, append([]string{"--policy-dir", policyDir}, extraArgs...)...)
	g.WaitReady(20 * time.Second)
	return g
}

// run runs a gatehouse CLI verb and returns its combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return gatehouseproc.Run(gatehouseBin, args...)
}

// writePolicy writes files into dir atomically (write to a temp name, then
// rename, as editors do).
func writePolicy(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
}

type backend = gatehouseproc.Backend

func startBackend(t *testing.T, name string) *backend { return gatehouseproc.StartBackend(t, name) }

// xdsClient dials xds:///host as a proxyless grpc-go client of gateway, with
// the bootstrap that `gatehouse bootstrap --format grpc` prints.
func xdsClient(t *testing.T, g *gatehouse, gateway, node, host string) testpb.TestServiceClient {
	t.Helper()
	return gatehouseproc.XDSClient(t, gatehouseBin, g.XDSAddr, gateway, node, host)
}

// call makes one UnaryCall and returns the answering backend's name, or
// "error: ..." when it failed.
func call(c testpb.TestServiceClient, md ...string) string { return gatehouseproc.Call(c, md...) }

// waitFor calls until want answers (or bound passes) and returns how long it took.
func waitFor(t *testing.T, bound time.Duration, c testpb.TestServiceClient, want string, md ...string) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		if last = call(c, md...); last == want {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no answer from %q within %v; last answer %q", want, bound, last)
	return 0
}
