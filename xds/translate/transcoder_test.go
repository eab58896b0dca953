package translate

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestTranscoderPlacement: the transcoder is last before the router,
// after the WAF, the transformation filter and fault; enabled only on
// the transcoding Route (full config), disabled at the filter level (no
// services), and absent from a Gateway without transcoding.
func TestTranscoderPlacement(t *testing.T) {
	g := checkedEdge(t, "transcoding")
	var names []string
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		for _, f := range h.GetHttpFilters() {
			names = append(names, f.GetName())
		}
	})
	tail := strings.Join(names[len(names)-5:], " ")
	want := strings.Join([]string{wire.FilterWAF, wire.FilterTransform, wire.FilterFault, wire.FilterTranscoder, wire.FilterRouter}, " ")
	if tail != want {
		t.Errorf("filter chain ends %s, want %s", tail, want)
	}
	for _, r := range routesOf(g) {
		cfg := r.GetTypedPerFilterConfig()[wire.FilterTranscoder]
		if (cfg != nil) != (r.GetName() == "books-rest") {
			t.Errorf("route %s: transcoder per-route config %v", r.GetName(), cfg != nil)
		}
	}
	// A Gateway without transcoding has no transcoder.
	other := checkedEdge(t, "transform")
	editHCM(t, other.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		for _, f := range h.GetHttpFilters() {
			if f.GetName() == wire.FilterTranscoder {
				t.Error("a Gateway without transcoding got the transcoder")
			}
		}
	})
}

func routesOf(g *Group) []*routev3.Route {
	var out []*routev3.Route
	for _, rc := range g.Routes {
		for _, vh := range rc.(*routev3.RouteConfiguration).GetVirtualHosts() {
			out = append(out, vh.GetRoutes()...)
		}
	}
	return out
}

// editTranscoder rewrites the books-rest Route's transcoder config.
func editTranscoder(t *testing.T, g *Group, edit func(*transcoderv3.GrpcJsonTranscoder)) {
	t.Helper()
	for _, r := range routesOf(g) {
		a := r.GetTypedPerFilterConfig()[wire.FilterTranscoder]
		if a == nil {
			continue
		}
		m := &transcoderv3.GrpcJsonTranscoder{}
		if err := a.UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		r.TypedPerFilterConfig[wire.FilterTranscoder] = mustAny(m)
	}
}

// TestTranscoderCheckRules: Check refuses what Envoy would refuse when it
// builds the transcoder (a descriptor set that does not parse or link, a
// service not in it, a template that does not parse) and what gatehouse
// never emits because it opens a way around the Route (re-routing by the
// gRPC path, auto_mapping, passing unknown calls through, a descriptor
// file the proxies do not have, services at the filter level).
func TestTranscoderCheckRules(t *testing.T) {
	setOf := func(m *transcoderv3.GrpcJsonTranscoder) *descriptorpb.FileDescriptorSet {
		s := &descriptorpb.FileDescriptorSet{}
		if err := proto.Unmarshal(m.GetProtoDescriptorBin(), s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	setBin := func(m *transcoderv3.GrpcJsonTranscoder, s *descriptorpb.FileDescriptorSet) {
		b, err := proto.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		m.DescriptorSet = &transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin{ProtoDescriptorBin: b}
	}
	for name, c := range map[string]struct {
		edit func(*transcoderv3.GrpcJsonTranscoder)
		want string
	}{
		"re-routed by the gRPC path": {func(m *transcoderv3.GrpcJsonTranscoder) { m.MatchIncomingRequestRoute = false }, "match_incoming_request_route"},
		"auto mapping":               {func(m *transcoderv3.GrpcJsonTranscoder) { m.AutoMapping = true }, "auto_mapping"},
		"unknown methods pass":       {func(m *transcoderv3.GrpcJsonTranscoder) { m.RequestValidationOptions.RejectUnknownMethod = false }, "reject unknown methods"},
		"unknown query passes":       {func(m *transcoderv3.GrpcJsonTranscoder) { m.RequestValidationOptions = nil }, "reject unknown methods"},
		"body overrides the path": {func(m *transcoderv3.GrpcJsonTranscoder) {
			m.RequestValidationOptions.RejectBindingBodyFieldCollisions = false
		}, "reject_binding_body_field_collisions"},
		"query ignored":                  {func(m *transcoderv3.GrpcJsonTranscoder) { m.IgnoreUnknownQueryParameters = true }, "must not ignore or capture"},
		"query captured":                 {func(m *transcoderv3.GrpcJsonTranscoder) { m.CaptureUnknownQueryParameters = true }, "must not ignore or capture"},
		"named query parameters ignored": {func(m *transcoderv3.GrpcJsonTranscoder) { m.IgnoredQueryParameters = []string{"debug"} }, "must not ignore or capture"},
		"descriptor file": {func(m *transcoderv3.GrpcJsonTranscoder) {
			m.DescriptorSet = &transcoderv3.GrpcJsonTranscoder_ProtoDescriptor{ProtoDescriptor: "/etc/bookstore.pb"}
		}, "must be embedded"},
		"garbage descriptor": {func(m *transcoderv3.GrpcJsonTranscoder) {
			m.DescriptorSet = &transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin{ProtoDescriptorBin: []byte("garbage")}
		}, "Envoy would refuse the transcoder's descriptor set"},
		"imports missing": {func(m *transcoderv3.GrpcJsonTranscoder) {
			s := setOf(m)
			s.File = s.File[len(s.File)-1:]
			setBin(m, s)
		}, "not earlier in the set"},
		"service missing": {func(m *transcoderv3.GrpcJsonTranscoder) { m.Services = append(m.Services, "bookstore.v1.Library") }, "bookstore.v1.Library is not in the descriptor set"},
		"no services":     {func(m *transcoderv3.GrpcJsonTranscoder) { m.Services = nil }, "must list its services"},
		"service without annotations": {func(m *transcoderv3.GrpcJsonTranscoder) {
			s := setOf(m)
			for _, svc := range s.File[len(s.File)-1].GetService() {
				for _, md := range svc.GetMethod() {
					md.Options = nil
				}
			}
			setBin(m, s)
		}, "no method has a google.api.http annotation"},
		"bad template": {func(m *transcoderv3.GrpcJsonTranscoder) {
			s := setOf(m)
			md := s.File[len(s.File)-1].GetService()[0].GetMethod()[0]
			proto.SetExtension(md.Options, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "v1/shelves"}})
			setBin(m, s)
		}, "must start with /"},
	} {
		t.Run(name, func(t *testing.T) {
			g := checkedEdge(t, "transcoding")
			editTranscoder(t, g, c.edit)
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("services at the filter level", func(t *testing.T) {
		g := checkedEdge(t, "transcoding")
		editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
			for _, f := range h.GetHttpFilters() {
				if f.GetName() == wire.FilterTranscoder {
					f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&transcoderv3.GrpcJsonTranscoder{
						DescriptorSet: &transcoderv3.GrpcJsonTranscoder_ProtoDescriptorBin{}, Services: []string{"bookstore.v1.Bookstore"},
					})}
				}
			}
		})
		if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "filter-level config must list no service") {
			t.Fatalf("Check = %v", err)
		}
	})
}

// TestTranscoderOrderCheck: a transcoder anywhere but right before the
// router is refused: before the WAF or the transformation filter (they
// would see protobuf), or before fault.
func TestTranscoderOrderCheck(t *testing.T) {
	for _, before := range []string{wire.FilterWAF, wire.FilterTransform, wire.FilterFault} {
		t.Run(before, func(t *testing.T) {
			g := checkedEdge(t, "transcoding")
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				var tr *hcmv3.HttpFilter
				var rest []*hcmv3.HttpFilter
				for _, f := range h.HttpFilters {
					if f.GetName() == wire.FilterTranscoder {
						tr = f
						continue
					}
					rest = append(rest, f)
				}
				var out []*hcmv3.HttpFilter
				for _, f := range rest {
					if f.GetName() == before {
						out = append(out, tr)
					}
					out = append(out, f)
				}
				h.HttpFilters = out
			})
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), "the transcoder must come right before the router") {
				t.Fatalf("Check = %v, want the order refused", err)
			}
		})
	}
}

// TestTranscoderAlone: a Gateway whose only special Route transcodes
// (no policy, CORS or fault anywhere) gets the transcoder and the Route
// its config, and passes Check.
func TestTranscoderAlone(t *testing.T) {
	src, err := os.ReadFile("testdata/in/transcoding/bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	set, err := protoset.Compile(map[string]string{"bookstore.proto": string(src)}, "bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	snap := policy.Load(fstest.MapFS{"bookstore.pb": {Data: set}, "p.yaml": {Data: []byte(`kind: Gateway
name: edge
spec:
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
kind: Service
name: bookstore
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: rest
spec:
  gateways: [edge]
  backends: [{service: bookstore}]
  transcoding: {descriptorSet: bookstore.pb, services: [bookstore.v1.Bookstore]}
`)}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	groups, err := Translate(snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := groups[GroupKey{"edge", ClientEnvoy}]
	if err := Check(g, clasOf(g)); err != nil {
		t.Fatal(err)
	}
	rs := routesOf(g)
	if len(rs) != 1 || rs[0].GetTypedPerFilterConfig()[wire.FilterTranscoder] == nil {
		t.Fatalf("the Route lacks its transcoder config: %v", rs)
	}
}
