package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// `gatehouse status` lists the deprecated Routes that still receive
// traffic, from the usage analytics a running gatehouse builds out of the
// access log entries Envoy streams to it (sent here over real gRPC as
// Envoy sends them): the deprecated Route with traffic is listed with its
// request count, sunset and successor; a deprecated Route without traffic,
// a Route deprecated only in the future and a current Route are not.
func TestStatusListsDeprecatedRoutesInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{
		"gateway.yaml":  gatewayYAML,
		"services.yaml": "kind: Service\nname: api\nspec:\n  discovery:\n    static:\n      - {address: 127.0.0.1, port: 9}\n",
		"routes.yaml": `kind: Route
name: orders-v1
spec:
  gateways: [public]
  backends: [{service: api}]
  version: {name: v1, pathPrefix: /v1, deprecation: 2025-01-01, sunset: 2025-06-30, successor: /v2}
---
kind: Route
name: orders-v2
spec:
  gateways: [public]
  backends: [{service: api}]
  version: {name: v2, pathPrefix: /v2}
---
kind: Route
name: reports-v1
spec:
  gateways: [public]
  backends: [{service: api}]
  version: {name: v1, header: x-reports-version, deprecation: 2025-01-01}
---
kind: Route
name: orders-v3-beta
spec:
  gateways: [public]
  backends: [{service: api}]
  version: {name: v3, header: x-orders-version, deprecation: 2999-01-01}
`,
	})
	g := startGatehouse(t, dir)
	out, err := run(t, "status", "--server", g.AdminAddr)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if strings.Contains(out, "Deprecated routes") {
		t.Fatalf("deprecated routes listed before any traffic:\n%s", out)
	}

	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := alsv3.NewAccessLogServiceClient(cc).StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var entries []*accesslogv3.HTTPAccessLogEntry
	for route, n := range map[string]int{"orders-v1": 7, "orders-v2": 5, "orders-v3-beta": 2} {
		for i := 0; i < n; i++ {
			entries = append(entries, &accesslogv3.HTTPAccessLogEntry{
				CommonProperties: &accesslogv3.AccessLogCommon{RouteName: route, UpstreamCluster: "svc/api", Duration: durationpb.New(3 * time.Millisecond)},
				Request:          &accesslogv3.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Path: "/x"},
				Response:         &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200)},
			})
		}
	}
	msg := &alsv3.StreamAccessLogsMessage{
		Identifier: &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "envoy-1", Cluster: "public"}, LogName: "gatehouse-usage"},
		LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}},
	}
	if err := stream.Send(msg); err != nil {
		t.Fatal(err)
	}
	// Counted asynchronously to the send: poll status, bounded.
	start := time.Now()
	for !strings.Contains(out, "Deprecated routes still receiving traffic") {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("status did not list orders-v1 within 10s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
		if out, err = run(t, "status", "--server", g.AdminAddr); err != nil {
			t.Fatalf("status: %v\n%s", err, out)
		}
	}
	t.Logf("listed after %v", time.Since(start))
	_, section, _ := strings.Cut(out, "Deprecated routes still receiving traffic")
	section, _, _ = strings.Cut(section, "\n\n")
	for _, want := range []string{"ROUTE      VERSION  DEPRECATED  SUNSET", "orders-v1  v1       2025-01-01  2025-06-30 (passed)  7         public    /v2"} {
		if !strings.Contains(section, want) {
			t.Errorf("deprecated section lacks %q:\n%s", want, section)
		}
	}
	for _, not := range []string{"orders-v2", "reports-v1", "orders-v3-beta"} {
		if strings.Contains(section, not) {
			t.Errorf("deprecated section lists %s:\n%s", not, section)
		}
	}
	stream.CloseSend()
}
