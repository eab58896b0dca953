package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// A NACK sent on a raw ADS stream, as Envoy sends one, shows up in
// /api/v1/proxies and in `gatehouse status` with its error text.
func TestNACKIsVisible(t *testing.T) {
	t.Parallel()
	app := startBackend(t, "app")
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"app.yaml":     staticService("app", app),
		"route.yaml":   "kind: Route\nname: r\nspec:\n  gateways: [public]\n  backends: [{service: app}]\n",
	})
	g := startGatehouse(t, dir)

	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "raw-envoy", Cluster: "public", UserAgentName: "envoy"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.TypeUrl != resourcev3.ListenerType || resp.VersionInfo == "" || len(resp.Resources) == 0 {
		t.Fatalf("first response: type %s version %q, %d resources", resp.TypeUrl, resp.VersionInfo, len(resp.Resources))
	}
	const reason = "Proto constraint validation failed: injected by the e2e test"
	start := time.Now()
	if err := stream.Send(&discoveryv3.DiscoveryRequest{
		Node: node, TypeUrl: resourcev3.ListenerType, ResponseNonce: resp.Nonce,
		ErrorDetail: &status.Status{Code: 3, Message: reason},
	}); err != nil {
		t.Fatal(err)
	}
	for {
		if p, ok := findProxy(t, g, "raw-envoy"); ok {
			if n := p.Types["listeners"].NACK; n != nil && strings.Contains(n.Error, "injected by the e2e test") {
				t.Logf("NACK visible in /api/v1/proxies after %v (target < 1s)", time.Since(start).Round(time.Millisecond))
				break
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("NACK not visible in /api/v1/proxies within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil || !strings.Contains(out, "raw-envoy") || !strings.Contains(out, "injected by the e2e test") {
		t.Fatalf("gatehouse status does not show the NACK (err %v):\n%s", err, out)
	}
	// The object status maps the NACKed listeners back to the Gateway that
	// produced them; the Route, whose resources were not rejected, stays
	// programmed.
	for _, want := range []string{
		"Gateway  public  public    yes       no",
		"Route    r       public    yes       yes",
		"Gateway/public not Programmed: rejected by proxies: raw-envoy (public, envoy) NACKed listeners: " + reason,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("gatehouse status lacks %q:\n%s", want, out)
		}
	}
}
