package usage

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A client sending garbage is answered InvalidArgument, the garbage is
// counted by reason, the good entries of the same message still count, and
// the service goes on serving other streams.
func TestMalformedStreams(t *testing.T) {
	ok := entry{route: "r", code: 200}
	noCommon := &accesslogv3.HTTPAccessLogEntry{Response: &accesslogv3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(200)}}
	badCode := ok.proto()
	badCode.Response.ResponseCode = wrapperspb.UInt32(1000)
	negative := ok.proto()
	negative.CommonProperties.Duration = durationpb.New(-time.Second)
	longRoute := ok.proto()
	longRoute.CommonProperties.RouteName = strings.Repeat("r", maxLabel+1)
	mixed := func(bad *accesslogv3.HTTPAccessLogEntry) *alsv3.StreamAccessLogsMessage {
		m := httpLogs(ok, ok)
		l := m.GetHttpLogs()
		l.LogEntry = append(l.LogEntry[:1], bad, l.LogEntry[1])
		return withID("gw", m)
	}
	for _, c := range []struct {
		name    string
		msgs    []*alsv3.StreamAccessLogsMessage
		reason  string
		counted float64 // good entries counted before the stream ended
	}{
		{"no identifier on the first message", []*alsv3.StreamAccessLogsMessage{httpLogs(ok)}, "no_identifier", 0},
		{"identifier without node.cluster", []*alsv3.StreamAccessLogsMessage{{
			Identifier: &alsv3.StreamAccessLogsMessage_Identifier{Node: &corev3.Node{Id: "x"}},
			LogEntries: httpLogs(ok).LogEntries}}, "no_gateway", 0},
		{"gateway name too long", []*alsv3.StreamAccessLogsMessage{withID(strings.Repeat("g", maxLabel+1), httpLogs(ok))}, "no_gateway", 0},
		{"no entries at all", []*alsv3.StreamAccessLogsMessage{withID("gw", &alsv3.StreamAccessLogsMessage{})}, "no_entries", 0},
		{"entry without common_properties", []*alsv3.StreamAccessLogsMessage{mixed(noCommon)}, "no_common_properties", 2},
		{"status code 1000", []*alsv3.StreamAccessLogsMessage{mixed(badCode)}, "bad_response_code", 2},
		{"negative duration", []*alsv3.StreamAccessLogsMessage{mixed(negative)}, "bad_duration", 2},
		{"route name longer than a name can be", []*alsv3.StreamAccessLogsMessage{mixed(longRoute)}, "bad_label", 2},
		{"garbage after a good message", []*alsv3.StreamAccessLogsMessage{withID("gw", httpLogs(ok)), {}}, "no_entries", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, reg := newService(t, Options{})
			conn := server(t, s)
			err := send(t, conn, c.msgs...)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("answer %v, want InvalidArgument", err)
			}
			t.Logf("answer: %v", err)
			if got := value(t, reg, "gatehouse_usage_malformed_total", map[string]string{"reason": c.reason}); got != 1 {
				t.Errorf("malformed{reason=%s} = %v, want 1", c.reason, got)
			}
			if got := value(t, reg, "gatehouse_usage_entries_total", map[string]string{"result": "counted"}); got != c.counted {
				t.Errorf("counted entries = %v, want %v", got, c.counted)
			}
			if err := send(t, conn, withID("gw", httpLogs(ok))); err != nil {
				t.Fatalf("a good stream after the bad one: %v", err)
			}
			if got := value(t, reg, "gatehouse_usage_entries_total", map[string]string{"result": "counted"}); got != c.counted+1 {
				t.Errorf("after a good stream: counted entries = %v, want %v", got, c.counted+1)
			}
		})
	}
}

// rawCodec sends bytes as they are, as a broken client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { return nil }
func (rawCodec) Name() string                       { return "proto" }

// Bytes that are not a StreamAccessLogsMessage at all: answered with an
// error and counted.
func TestUndecodableMessage(t *testing.T) {
	s, reg := newService(t, Options{})
	conn := server(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc := &grpc.StreamDesc{ClientStreams: true}
	st, err := conn.NewStream(ctx, desc, "/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs", grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	st.SendMsg([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	st.CloseSend()
	// grpc-go answers a message its codec cannot decode itself, with Internal.
	err = st.RecvMsg(new([]byte))
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "unmarshal") {
		t.Fatalf("answer %v, want Internal: failed to unmarshal", err)
	}
	// The client may see the answer before the handler's count lands
	// (grpc-go can end the stream on its own when a message does not
	// decode), so wait for it, bounded.
	var got float64
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(5 * time.Millisecond) {
		if got = value(t, reg, "gatehouse_usage_malformed_total", map[string]string{"reason": "undecodable"}); got == 1 {
			return
		}
	}
	t.Errorf("malformed{reason=undecodable} = %v, want 1", got)
}
