package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMirrorAndFault: valid mirror and fault blocks load as written.
func TestMirrorAndFault(t *testing.T) {
	s := Load(testFS(t, map[string]string{"r.yaml": `kind: Route
name: r
spec:
  gateways: [gw]
  backends: [{service: a}]
  mirror: [{service: b, percent: 20}]
  fault:
    delay: {duration: 250ms, percent: 100}
    abort: {grpcStatus: 14, percent: 5}
    whenHeader: {name: x-chaos, present: true}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %s", strings.Join(errs, "\n"))
	}
	sp := s.Routes["r"].Spec
	if len(sp.Mirror) != 1 || sp.Mirror[0].Service != "b" || sp.Mirror[0].P() != 20 {
		t.Errorf("mirror = %+v", sp.Mirror)
	}
	f := sp.Fault
	if f == nil || f.Delay.Duration.D() != 250*time.Millisecond || *f.Abort.GRPCStatus != 14 || !f.WhenHeader.Present {
		t.Errorf("fault = %+v", f)
	}
}

// TestBadTraffic: every contradictory or out-of-range mirror, fault and
// caseInsensitive is rejected with file, line and field.
func TestBadTraffic(t *testing.T) {
	fwd := route + "  gateways: [gw]\n  backends: [{service: a}]\n" // lines 4-5
	for _, tc := range []badCase{
		{"mirror to itself", fwd + "  mirror: [{service: a}]\n",
			6, "Route/r", "spec.mirror[0].service", `Service "a" is a backend of this Route; a Route cannot mirror to itself`},
		{"mirror twice", fwd + "  mirror: [{service: b}, {service: b}]\n",
			6, "Route/r", "spec.mirror[1].service", `duplicate Service "b"`},
		{"mirror missing service", fwd + "  mirror: [{service: nope}]\n",
			6, "Route/r", "spec.mirror[0].service", `Service "nope" does not exist`},
		{"mirror no name", fwd + "  mirror: [{percent: 5}]\n",
			6, "Route/r", "spec.mirror[0].service", "required"},
		{"mirror percent 0", fwd + "  mirror: [{service: b, percent: 0}]\n",
			6, "Route/r", "spec.mirror[0].percent", "0 is out of range; 1..100"},
		{"mirror percent 101", fwd + "  mirror: [{service: b, percent: 101}]\n",
			6, "Route/r", "spec.mirror[0].percent", "101 is out of range; 1..100"},
		{"mirror empty", fwd + "  mirror: []\n",
			6, "Route/r", "spec.mirror", "must list at least one Service"},
		{"too many mirrors", fwd + "  mirror: [{service: b}, {service: c}, {service: d}, {service: e}, {service: f}]\n",
			6, "Route/r", "spec.mirror", fmt.Sprintf("has 5 entries; at most %d", MaxMirrors)},
		{"mirror on redirect", route + "  gateways: [gw]\n  redirect: {host: b.example.com}\n  mirror: [{service: b}]\n",
			6, "Route/r", "spec.mirror", "applies only to a Route with backends"},
		{"fault on direct response", route + "  gateways: [gw]\n  directResponse: {status: 200}\n  fault: {abort: {status: 503, percent: 1}}\n",
			6, "Route/r", "spec.fault", "applies only to a Route with backends"},
		{"fault empty", fwd + "  fault: {}\n",
			6, "Route/r", "spec.fault", "set at least one of delay, abort"},
		{"fault only header", fwd + "  fault: {whenHeader: {name: x, present: true}}\n",
			6, "Route/r", "spec.fault", "set at least one of delay, abort"},
		{"delay no duration", fwd + "  fault: {delay: {percent: 5}}\n",
			6, "Route/r", "spec.fault.delay.duration", "out of range; more than 0"},
		{"delay too long", fwd + "  fault: {delay: {duration: 6m, percent: 5}}\n",
			6, "Route/r", "spec.fault.delay.duration", "6m0s is out of range"},
		{"delay no percent", fwd + "  fault: {delay: {duration: 1s}}\n",
			6, "Route/r", "spec.fault.delay.percent", "0 is out of range; 1..100 (required)"},
		{"delay percent over", fwd + "  fault: {delay: {duration: 1s, percent: 200}}\n",
			6, "Route/r", "spec.fault.delay.percent", "200 is out of range"},
		{"abort both", fwd + "  fault: {abort: {status: 503, grpcStatus: 14, percent: 5}}\n",
			6, "Route/r", "spec.fault.abort", "set exactly one of status, grpcStatus"},
		{"abort neither", fwd + "  fault: {abort: {percent: 5}}\n",
			6, "Route/r", "spec.fault.abort", "set exactly one of status, grpcStatus"},
		{"abort status low", fwd + "  fault: {abort: {status: 199, percent: 5}}\n",
			6, "Route/r", "spec.fault.abort.status", "199 is out of range; 200..599"},
		{"abort status high", fwd + "  fault: {abort: {status: 600, percent: 5}}\n",
			6, "Route/r", "spec.fault.abort.status", "600 is out of range; 200..599"},
		{"abort grpc OK", fwd + "  fault: {abort: {grpcStatus: 0, percent: 5}}\n",
			6, "Route/r", "spec.fault.abort.grpcStatus", "0 is not a gRPC error code; 1..16"},
		{"abort grpc 17", fwd + "  fault: {abort: {grpcStatus: 17, percent: 5}}\n",
			6, "Route/r", "spec.fault.abort.grpcStatus", "17 is not a gRPC error code"},
		{"abort no percent", fwd + "  fault: {abort: {status: 503}}\n",
			6, "Route/r", "spec.fault.abort.percent", "0 is out of range; 1..100 (required)"},
		{"header no name", fwd + "  fault: {abort: {status: 503, percent: 1}, whenHeader: {exact: on}}\n",
			6, "Route/r", "spec.fault.whenHeader.name", "required"},
		{"header bad name", fwd + "  fault: {abort: {status: 503, percent: 1}, whenHeader: {name: \"a b\", exact: on}}\n",
			6, "Route/r", "spec.fault.whenHeader.name", `"a b" is not a valid HTTP header name`},
		{"header no value", fwd + "  fault: {abort: {status: 503, percent: 1}, whenHeader: {name: x}}\n",
			6, "Route/r", "spec.fault.whenHeader", "set exactly one of exact, prefix, regex, present: true"},
		{"header bad regex", fwd + "  fault: {abort: {status: 503, percent: 1}, whenHeader: {name: x, regex: \"(\"}}\n",
			6, "Route/r", "spec.fault.whenHeader.regex", "missing closing )"},
		{"caseInsensitive on regex", fwd + "  match: {path: {regex: /a.*, caseInsensitive: true}}\n",
			6, "Route/r", "spec.match.path.caseInsensitive", "does not apply to a regex; start the regex with (?i) instead"},
		{"caseInsensitive false", fwd + "  match: {path: {prefix: /a, caseInsensitive: false}}\n",
			6, "Route/r", "spec.match.path.caseInsensitive", "only true is allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, map[string]string{"bad.yaml": tc.yaml}), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: %s: %s: ", tc.line, tc.ref, tc.path)
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
			if s.Routes["r"] != nil {
				t.Errorf("Route r is served despite errors")
			}
		})
	}
}

// TestTrafficEdgesLoad: mirrors and faults at the last allowed value of
// each bound, and a fault with only a delay or only an abort.
func TestTrafficEdgesLoad(t *testing.T) {
	const fwd = "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n"
	svcs := ""
	mirrors := ""
	for i := 1; i <= MaxMirrors; i++ {
		svcs += fmt.Sprintf("---\nkind: Service\nname: m%d\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: %d}]}\n", i, 9100+i)
		mirrors += fmt.Sprintf("{service: m%d, percent: 1}, ", i)
	}
	runCleanCases(t, []cleanCase{
		{"most mirrors, each at 1 percent", fwd + "  mirror: [" + strings.TrimSuffix(mirrors, ", ") + "]\n" + svcs,
			func(t *testing.T, s *Snapshot) {
				if m := s.Routes["r"].Spec.Mirror; len(m) != MaxMirrors || m[0].P() != 1 {
					t.Errorf("mirror %+v", m)
				}
			}, nil},
		{"longest delay alone, on 1 percent", fwd + fmt.Sprintf("  fault: {delay: {duration: %s, percent: 1}}\n", MaxFaultDelay), nil, nil},
		{"abort alone, lowest gRPC code", fwd + "  fault: {abort: {grpcStatus: 1, percent: 1}}\n", nil, nil},
		{"abort alone, highest gRPC code", fwd + "  fault: {abort: {grpcStatus: 16, percent: 100}}\n", nil, nil},
		{"abort alone, HTTP status at its ends", fwd + "  fault: {abort: {status: 200, percent: 1}}\n---\nkind: Route\nname: r2\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n  fault: {abort: {status: 599, percent: 1}}\n", nil, nil},
	})
}
