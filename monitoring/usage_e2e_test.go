package monitoring

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/pkg/usage"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// Usage analytics across the process boundary: a Gateway with
// accessLog.usage gets the gatehouse/usage cluster at gatehouse's own
// address; access logs streamed by two Envoys (one reconnecting) show up,
// exactly, in `gatehouse usage` and /api/v1/usage.
func TestUsageEndToEnd(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"gatehouse", "policies"} {
		copyDir(t, filepath.Join("..", "examples", "api-management", sub), filepath.Join(dir, sub))
	}
	gw := filepath.Join(dir, "gatehouse", "gateway.yaml")
	b, err := os.ReadFile(gw)
	if err != nil {
		t.Fatal(err)
	}
	withUsage := strings.Replace(string(b), "  defaults:\n", "  accessLog: {usage: true}\n  defaults:\n", 1)
	if withUsage == string(b) {
		t.Fatal("examples/api-management/gatehouse/gateway.yaml changed: cannot add accessLog.usage")
	}
	if err := os.WriteFile(gw, []byte(withUsage), 0o644); err != nil {
		t.Fatal(err)
	}
	g := gatehouseproc.Start(t, bin, "--policy-dir", filepath.Join(dir, "gatehouse"))
	g.WaitReady(60 * time.Second)

	// The proxies of Gateway public get the access-log cluster.
	ads := gatehouseproc.OpenADS(t, g.XDSAddr)
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "e", Cluster: "public", UserAgentName: "envoy"}, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	resp, err := ads.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range resp.Resources {
		c := &clusterv3.Cluster{}
		if a.UnmarshalTo(c) == nil && c.Name == wire.UsageCluster {
			sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
			if got := net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)); got != g.XDSAddr {
				t.Errorf("gatehouse/usage at %s, want gatehouse's %s", got, g.XDSAddr)
			}
			found = true
		}
	}
	if !found {
		t.Errorf("no %s cluster for a Gateway with accessLog.usage", wire.UsageCluster)
	}

	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 { // two Envoys, the second reconnecting once
		if err := sendAccessLog(ctx, cc, true); err != nil {
			t.Fatal(err)
		}
	}

	out, err := gatehouseproc.Run(bin, "usage", "--server", g.AdminAddr, "--consumer", "acme", "--since", "10m", "-o", "json")
	if err != nil {
		t.Fatalf("gatehouse usage: %v\n%s", err, out)
	}
	var rep usage.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	want := usage.Row{Gateway: "public", Route: "orders-read", Service: "orders", Consumer: "acme", Plan: "gold",
		Requests: 9, Errors4xx: 3, Errors5xx: 3, LatencyAvgMs: 31.666666, LatencyMaxMs: 80}
	if len(rep.Rows) != 1 {
		t.Fatalf("rows %+v, want one", rep.Rows)
	}
	got := rep.Rows[0]
	got.LatencyAvgMs = float64(int(got.LatencyAvgMs*1e6)) / 1e6
	if got != want {
		t.Errorf("usage of acme:\n got %+v\nwant %+v", got, want)
	}
	out, err = gatehouseproc.Run(bin, "usage", "--server", g.AdminAddr)
	if err != nil || !strings.Contains(out, "public   orders-read  orders   acme      gold  9         3    3    31.7    80.0") {
		t.Errorf("gatehouse usage (table): %v\n%s", err, out)
	}
	if code, body := g.Get("/api/v1/usage?since=2h"); code != 400 || !strings.Contains(body, "usage window") {
		t.Errorf("since beyond the window: %d %s", code, body)
	}
}
