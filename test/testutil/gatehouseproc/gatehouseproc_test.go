package gatehouseproc

import (
	"net"
	"strings"
	"sync"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestTail(t *testing.T) {
	if got := Tail("abcdef", 3); got != "...def" {
		t.Fatalf("Tail cut = %q", got)
	}
	if got := Tail("abc", 3); got != "abc" {
		t.Fatalf("Tail uncut = %q", got)
	}
}

func TestLockedBufferConcurrentWrites(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 800) {
		t.Fatalf("got %d bytes, want 800", len(got))
	}
}

func TestFreeAddrIsListenable(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr %s: %v", addr, err)
	}
	l.Close()
}

func TestBackendAnswersWithItsName(t *testing.T) {
	b := StartBackend(t, "b1")
	cc, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if got := Call(testpb.NewTestServiceClient(cc)); got != "b1" {
		t.Fatalf("Call = %q, want b1", got)
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestResourceNames(t *testing.T) {
	cds := &discoveryv3.DiscoveryResponse{Resources: []*anypb.Any{
		mustAny(t, &clusterv3.Cluster{Name: "c", EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: "c/eds"}}),
	}}
	if got, err := EDSNames(cds); err != nil || len(got) != 1 || got[0] != "c/eds" {
		t.Fatalf("EDSNames = %v, %v", got, err)
	}
	hcm := &hcmv3.HttpConnectionManager{RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "rc"}}}
	l := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{
		{Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)}},
	}}}}
	lds := &discoveryv3.DiscoveryResponse{Resources: []*anypb.Any{mustAny(t, l), mustAny(t, &clusterv3.Cluster{})}}
	got, err := RDSNames(lds)
	if len(got) != 1 || got[0] != "rc" {
		t.Fatalf("RDSNames = %v", got)
	}
	if err == nil {
		t.Fatal("RDSNames: a resource that is not a Listener was not reported")
	}
}

func TestMetricIn(t *testing.T) {
	body := "# HELP up x\n# TYPE up gauge\n" +
		`gatehouse_registry_up{source="consul"} 1` + "\n" +
		`gatehouse_registry_up{source="consul2"} 0` + "\n" +
		"gatehouse_builds_total 12\n" +
		"gatehouse_builds_total_failed 3\n"
	for sample, want := range map[string]float64{
		`gatehouse_registry_up{source="consul"}`:  1,
		`gatehouse_registry_up{source="consul2"}`: 0,
		"gatehouse_builds_total":                  12, // not the _failed sample sharing its prefix
		"gatehouse_builds":                        -1,
		`gatehouse_registry_up{source="dns"}`:     -1,
	} {
		if got := MetricIn(body, sample); got != want {
			t.Errorf("MetricIn(%s) = %v, want %v", sample, got, want)
		}
	}
}
