package gatehouseproc

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/xds"
)

// Backend is a real gRPC server on loopback that answers UnaryCall with its
// name (SimpleResponse.ServerId) and EmptyCall with a server-id header.
type Backend struct {
	testpb.UnimplementedTestServiceServer
	Name string
	Addr string // host:port
	Port int
	stop func()
}

// Stop stops the server at once, closing its connections, as a crashed
// backend would (tests of failover take a backend down with it).
func (b *Backend) Stop() { b.stop() }

func (b *Backend) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{ServerId: b.Name}, nil
}

func (b *Backend) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	grpc.SetHeader(ctx, metadata.Pairs("server-id", b.Name))
	return &testpb.Empty{}, nil
}

// StartBackend serves a Backend named name until the test ends.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	return StartBackendAt(t, name, "127.0.0.1:0")
}

// StartBackendAt is StartBackend on addr: several backends can share a port
// on different loopback addresses (127.0.0.2, 127.0.0.3, ...), as the pods
// behind a Kubernetes EndpointSlice share its port.
func StartBackendAt(t testing.TB, name, addr string) *Backend {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{Name: name, Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	go s.Serve(l)
	b.stop = s.Stop
	t.Cleanup(s.Stop)
	return b
}

// XDSClient dials xds:///host as a proxyless grpc-go client of gateway with
// node ID node, using the bootstrap `bin bootstrap --format grpc` prints for
// the ADS server at xdsAddr. The connection closes when the test ends.
func XDSClient(t testing.TB, bin, xdsAddr, gateway, node, host string) testpb.TestServiceClient {
	t.Helper()
	bootstrap, err := Run(bin, "bootstrap", "--format", "grpc", "--gateway", gateway, "--node-id", node, "--xds-addr", xdsAddr)
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

// Call makes one UnaryCall (1s bound, so that a hung call leaves a
// caller's wait loop time to retry; md as outgoing metadata pairs) and
// returns the answering backend's name, or "error: ..." when it failed.
func Call(c testpb.TestServiceClient, md ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "error: " + err.Error()
	}
	return resp.ServerId
}
