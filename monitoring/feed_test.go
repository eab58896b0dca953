package monitoring

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	commonrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// feed makes a running gatehouse (serving examples/api-management) export
// its request-path series the way real traffic would: an Envoy's access
// log, an ext_authz check, a rate-limit call, and a proxy that NACKs.
func feed(t *testing.T, g *gatehouseproc.Proc) {
	t.Helper()
	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := sendAccessLog(ctx, cc, true); err != nil {
		t.Fatalf("access log: %v", err)
	}
	if _, err := authv3.NewAuthorizationClient(cc).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: map[string]string{wire.CtxGateway: "public", wire.CtxRoute: "orders-read",
			wire.CtxAuthentication: "partner-keys,corp-jwt", wire.CtxAuthorization: "orders-authz"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/orders/7", Host: "api.example.com"}},
	}}); err != nil {
		t.Fatalf("ext_authz check: %v", err)
	}
	if _, err := rlsv3.NewRateLimitServiceClient(cc).ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{
		Domain: wire.Domain("public"),
		Descriptors: []*commonrlv3.RateLimitDescriptor{{Entries: []*commonrlv3.RateLimitDescriptor_Entry{
			{Key: wire.DescRateLimit, Value: "per-consumer#0"}, {Key: "consumer", Value: "acme"}}}},
	}); err != nil {
		t.Fatalf("rate limit: %v", err)
	}

	// A proxy of Gateway public that rejects its listeners.
	ads := gatehouseproc.OpenADS(t, g.XDSAddr)
	node := &corev3.Node{Id: "monitoring-envoy", Cluster: "public", UserAgentName: "envoy"}
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := ads.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := ads.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType, ResponseNonce: resp.Nonce,
		ErrorDetail: &rpcstatus.Status{Code: 3, Message: "rejected by the monitoring test"}}); err != nil {
		t.Fatal(err)
	}
}

// sendAccessLog sends one stream as Envoy does (identifier on the first
// message); with good false its first message lacks the identifier, which
// gatehouse refuses and counts as malformed.
func sendAccessLog(ctx context.Context, cc *grpc.ClientConn, good bool) error {
	entry := func(code uint32, ms int) *accesslogv3.HTTPAccessLogEntry {
		return &accesslogv3.HTTPAccessLogEntry{
			CommonProperties: &accesslogv3.AccessLogCommon{
				RouteName:       "orders-read",
				UpstreamCluster: "svc/orders",
				Duration:        durationpb.New(time.Duration(ms) * time.Millisecond),
				Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wire.ConsumerMetadataNamespace: {
					Fields: map[string]*structpb.Value{wire.ConsumerMetadataKey: structpb.NewStringValue("acme")}}}},
			},
			Request: &accesslogv3.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Path: "/orders/7"},
			Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(code),
				ResponseHeaders: map[string]string{"x-ratelimit-limit": "100", "x-ratelimit-remaining": "40"}},
		}
	}
	msg := &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{
		LogEntry: []*accesslogv3.HTTPAccessLogEntry{entry(200, 12), entry(503, 80), entry(404, 3)}}}}
	if good {
		msg.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "monitoring-envoy", Cluster: "public"}, LogName: "gatehouse-usage"}
	}
	st, err := alsv3.NewAccessLogServiceClient(cc).StreamAccessLogs(ctx)
	if err != nil {
		return err
	}
	st.Send(msg)
	_, err = st.CloseAndRecv()
	return err
}
