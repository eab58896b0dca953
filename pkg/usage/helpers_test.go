package usage

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// entry builds an HTTP entry the way Envoy's gRPC access logger fills one
// for a request through a gatehouse-configured listener.
type entry struct {
	route, service, consumer string
	code                     uint32
	ms                       int
	headers                  map[string]string
}

func (e entry) proto() *accesslogv3.HTTPAccessLogEntry {
	c := &accesslogv3.AccessLogCommon{
		StartTime:                      timestamppb.New(time.Unix(1700000000, 0)),
		RouteName:                      e.route,
		Duration:                       durationpb.New(time.Duration(e.ms) * time.Millisecond),
		TimeToLastDownstreamTxByte:     durationpb.New(time.Duration(e.ms) * time.Millisecond),
		DownstreamRemoteAddress:        &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
		UpstreamTransportFailureReason: "",
	}
	if e.service != "" {
		c.UpstreamCluster = "svc/" + e.service
	}
	if e.consumer != "" {
		c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wire.ConsumerMetadataNamespace: {Fields: map[string]*structpb.Value{
				wire.ConsumerMetadataKey:   structpb.NewStringValue(e.consumer),
				wire.DecisionIDMetadataKey: structpb.NewStringValue("d-1"),
			}},
		}}
	}
	out := &accesslogv3.HTTPAccessLogEntry{
		CommonProperties: c,
		ProtocolVersion:  accesslogv3.HTTPAccessLogEntry_HTTP11,
		Request:          &accesslogv3.HTTPRequestProperties{RequestMethod: corev3.RequestMethod_GET, Scheme: "http", Authority: "api.example.com", Path: "/orders", RequestId: "r-1"},
		Response:         &accesslogv3.HTTPResponseProperties{ResponseHeaders: e.headers},
	}
	if e.code != 0 {
		out.Response.ResponseCode = wrapperspb.UInt32(e.code)
	}
	return out
}

func httpLogs(es ...entry) *alsv3.StreamAccessLogsMessage {
	var l []*accesslogv3.HTTPAccessLogEntry
	for _, e := range es {
		l = append(l, e.proto())
	}
	return &alsv3.StreamAccessLogsMessage{LogEntries: &alsv3.StreamAccessLogsMessage_HttpLogs{
		HttpLogs: &alsv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: l}}}
}

// withID adds the identifier Envoy puts on the first message of a stream.
func withID(gateway string, m *alsv3.StreamAccessLogsMessage) *alsv3.StreamAccessLogsMessage {
	m.Identifier = &alsv3.StreamAccessLogsMessage_Identifier{
		Node:    &corev3.Node{Id: "envoy-" + gateway, Cluster: gateway, UserAgentName: "envoy"},
		LogName: "gatehouse-usage",
	}
	return m
}

// server runs s on a loopback gRPC server and returns a connection to it.
func server(t *testing.T, s *Service) *grpc.ClientConn {
	t.Helper()
	return grpctest.Serve(t, s)
}

// send opens a stream, sends msgs, closes it and returns the server's answer.
func send(t *testing.T, conn *grpc.ClientConn, msgs ...*alsv3.StreamAccessLogsMessage) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := alsv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			break // the server closed the stream: CloseAndRecv has its status
		}
	}
	_, err = st.CloseAndRecv()
	return err
}

func newService(t *testing.T, opts Options) (*Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// value is the value of the series of name with exactly labels (0 if absent).
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// series counts the series of name.
func series(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
