package translate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

func clusterNamed(t *testing.T, g *Group, name string) *clusterv3.Cluster {
	t.Helper()
	for _, r := range g.Clusters {
		if c := r.(*clusterv3.Cluster); c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return nil
}

// TestRetryBudgetReplacesMaxRetries: a Service with a retry budget gets it
// and no max_retries (never the silent cap of 3, never a fixed cap beside
// the budget); one without keeps max_retries = max_requests; proxyless
// clusters get neither (grpc-go reads max_requests only). The case passes
// Check.
func TestRetryBudgetReplacesMaxRetries(t *testing.T) {
	groups := translateCase(t, "retries", Options{})
	e, p := groups[GroupKey{"edge", ClientEnvoy}], groups[GroupKey{"edge", ClientGRPC}]
	if err := Check(cloneGroup(e), clasOf(e)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	th := clusterNamed(t, e, "svc/api").GetCircuitBreakers().GetThresholds()[0]
	if th.GetMaxRetries() != nil || th.GetRetryBudget().GetBudgetPercent().GetValue() != 25 || th.GetRetryBudget().GetMinRetryConcurrency().GetValue() != 5 {
		t.Errorf("svc/api thresholds %v, want the budget 25%%/5 and no max_retries", th)
	}
	th = clusterNamed(t, e, "svc/reports").GetCircuitBreakers().GetThresholds()[0]
	if th.GetMaxRetries() != nil || th.GetRetryBudget().GetBudgetPercent().GetValue() != 20 || th.GetRetryBudget().GetMinRetryConcurrency().GetValue() != 3 {
		t.Errorf("svc/reports thresholds %v, want Envoy's default budget 20%%/3 written out", th)
	}
	if th := clusterNamed(t, e, "svc/grpc-api").GetCircuitBreakers().GetThresholds()[0]; th.GetMaxRetries().GetValue() != envoyDefaultMaxRequests {
		t.Errorf("svc/grpc-api max_retries %v, want %d", th.GetMaxRetries(), envoyDefaultMaxRequests)
	}
	for _, r := range p.Clusters {
		for _, th := range r.(*clusterv3.Cluster).GetCircuitBreakers().GetThresholds() {
			if th.GetRetryBudget() != nil || th.GetMaxRetries() != nil {
				t.Errorf("proxyless cluster %s has retry limits grpc-go ignores: %v", r.(*clusterv3.Cluster).Name, th)
			}
		}
	}
}

// TestGRPCTimeoutKeepsRouteTimeout: once max_stream_duration is set Envoy
// stops reading the route timeout, so a Route honouring grpc-timeout
// carries its timeout in max_stream_duration (calls without the header
// stay bounded) and never keeps a timeout Envoy would silently skip.
func TestGRPCTimeoutKeepsRouteTimeout(t *testing.T) {
	e := translateCase(t, "retries", Options{})[GroupKey{"edge", ClientEnvoy}]
	for name, want := range map[string]string{"rpc-over-http": "5s", "exports": "10m0s", "grpc-users": "2s"} {
		ra := routeNamed(t, e, name).GetRoute()
		if ra.GetTimeout() != nil {
			t.Errorf("%s: timeout %v beside max_stream_duration (Envoy ignores it)", name, ra.GetTimeout().AsDuration())
		}
		if got := ra.GetMaxStreamDuration().GetMaxStreamDuration().AsDuration().String(); got != want {
			t.Errorf("%s: max_stream_duration %s, want %s", name, got, want)
		}
	}
	if ra := routeNamed(t, e, "orders").GetRoute(); ra.GetTimeout().AsDuration().String() != "3s" || ra.GetMaxStreamDuration() != nil {
		t.Errorf("orders: timeout %v, max_stream_duration %v; want 3s and none", ra.GetTimeout(), ra.GetMaxStreamDuration())
	}
}

// TestNoIgnoredRouteTimeout: in every golden case, no Envoy route keeps a
// non-zero timeout beside max_stream_duration, which Envoy would not read
// (source/common/router/router.cc, FilterUtility::finalTimeout,
// usingNewTimeouts), and no per-try timeout is at or above the route's
// timeout (ignored the same way). Every forwarding route has its stat
// prefix, the Route's name.
func TestNoIgnoredRouteTimeout(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for k, g := range translateCase(t, c.Name(), Options{}) {
			if k.Client != ClientEnvoy {
				continue
			}
			eachRoute(g, func(rc string, r *routev3.Route) {
				ra := r.GetRoute()
				if ra == nil {
					return
				}
				where := c.Name() + " " + rc + " " + r.GetName()
				if ra.GetMaxStreamDuration() != nil && ra.GetTimeout().AsDuration() > 0 {
					t.Errorf("%s: timeout %v beside max_stream_duration", where, ra.GetTimeout().AsDuration())
				}
				if pt, to := ra.GetRetryPolicy().GetPerTryTimeout().AsDuration(), ra.GetTimeout().AsDuration(); pt > 0 && to > 0 && pt >= to {
					t.Errorf("%s: per-try timeout %v not below timeout %v", where, pt, to)
				}
				if r.GetStatPrefix() != r.GetName() {
					t.Errorf("%s: stat_prefix %q", where, r.GetStatPrefix())
				}
			})
		}
	}
}

// TestGRPCTimeoutsProxyless: what a proxyless gRPC client is told bounds
// its calls. grpc-go takes grpc_timeout_header_max when set, else
// max_stream_duration (grpc-go: internal/xds/xdsclient/xdsresource/
// unmarshal_rds.go), so neither may be set to 0 where the policy gave
// nothing: a grpcTimeout alone sets only the header's cap, a timeout alone
// both.
func TestGRPCTimeoutsProxyless(t *testing.T) {
	for name, tc := range map[string]struct {
		spec policy.RouteSpec
		want *routev3.RouteAction_MaxStreamDuration
	}{
		"nothing":          {policy.RouteSpec{}, nil},
		"grpcTimeout only": {policy.RouteSpec{GRPCTimeout: &policy.GRPCTimeout{Max: policy.Duration(10 * time.Second)}}, &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(10 * time.Second)}},
		"timeout only": {policy.RouteSpec{Timeout: policy.Duration(5 * time.Second)}, &routev3.RouteAction_MaxStreamDuration{
			MaxStreamDuration: durationpb.New(5 * time.Second), GrpcTimeoutHeaderMax: durationpb.New(5 * time.Second)}},
		"stream timeout over timeout": {policy.RouteSpec{Timeout: policy.Duration(5 * time.Second), StreamTimeout: policy.Duration(time.Minute)}, &routev3.RouteAction_MaxStreamDuration{
			MaxStreamDuration: durationpb.New(time.Minute), GrpcTimeoutHeaderMax: durationpb.New(time.Minute)}},
	} {
		got := grpcTimeouts(&policy.Route{Spec: tc.spec})
		if !proto.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// TestStreamingGRPCTimeoutWithoutTimeout: a streaming Route with no
// timeout of its own that honours grpc-timeout caps the header and leaves
// max_stream_duration's own value unset, keeping its route timeout
// disabled (0s). A max_stream_duration of 0s would also make routeTimeouts
// drop that route timeout, leaving what bounds calls without the header
// to Envoy's defaults instead of the policy.
func TestStreamingGRPCTimeoutWithoutTimeout(t *testing.T) {
	ra := &routev3.RouteAction{}
	streamingAction(ra, 0)
	routeTimeouts(ra, &policy.Route{Spec: policy.RouteSpec{GRPCTimeout: &policy.GRPCTimeout{Max: policy.Duration(30 * time.Second)}}}, true)
	if ra.Timeout == nil || ra.Timeout.AsDuration() != 0 {
		t.Errorf("route timeout %v, want 0s (disabled)", ra.Timeout)
	}
	msd := ra.GetMaxStreamDuration()
	if msd.GetMaxStreamDuration() != nil || msd.GetGrpcTimeoutHeaderMax().AsDuration() != 30*time.Second {
		t.Errorf("max_stream_duration %v, want only grpc_timeout_header_max 30s", msd)
	}
}
