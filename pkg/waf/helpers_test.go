package waf

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"

	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// startService serves s on a real loopback gRPC server and returns a client.
func startService(t testing.TB, s *Service) extprocv3.ExternalProcessorClient {
	t.Helper()
	return startRegistrar(t, s)
}

func startRegistrar(t testing.TB, s interface{ Register(*grpc.Server) }) extprocv3.ExternalProcessorClient {
	t.Helper()
	conn := grpctest.Serve(t, s)
	return extprocv3.NewExternalProcessorClient(conn)
}
