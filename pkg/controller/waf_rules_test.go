package controller

import (
	"testing"
	"testing/fstest"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/waf"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// TestFirewallReachesTheWAF: a Firewall loaded from a policy directory
// becomes the WAF's rules (Rules, as the controller hands them to the
// services) and is enforced over real gRPC, through the external
// processing dispatcher, exactly as Envoy calls it; a Firewall that the
// next load drops keeps answering during make-before-break (withNames) and
// is refused after it.
func TestFirewallReachesTheWAF(t *testing.T) {
	load := func(yaml string) ServiceRules {
		t.Helper()
		snap := policy.Load(fstest.MapFS{"fw.yaml": {Data: []byte(yaml)}}, nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		r, err := Rules(snap, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := load("kind: Firewall\nname: edge\nspec: {paranoiaLevel: 1}\n")
	next := load("kind: Firewall\nname: edge2\nspec: {detectionOnly: true}\n")

	svc, err := waf.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := extproc.New()
	d.Handle(wire.ProcessorWAF, svc)
	conn := grpctest.Serve(t, d)
	client := extprocv3.NewExternalProcessorClient(conn)

	spoof := false
	// call sends an SQL injection GET and returns the immediate response
	// status (0: passed) or the stream's error.
	call := func(firewall string) (int, error) {
		hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte("/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--")},
			{Key: ":authority", RawValue: []byte("shop.example")}, {Key: ":scheme", RawValue: []byte("http")}, {Key: "user-agent", RawValue: []byte("Mozilla/5.0")}, {Key: "accept", RawValue: []byte("text/html")}}
		if spoof {
			hs = append(hs, &corev3.HeaderValue{Key: wire.WAFPolicyMetadataKey, RawValue: []byte("edge2")}, &corev3.HeaderValue{Key: wire.ProcessorMetadataKey, RawValue: []byte("none")})
		}
		return headersVerdict(client, []string{wire.ProcessorMetadataKey, wire.ProcessorWAF, wire.WAFPolicyMetadataKey, firewall}, hs)
	}

	if err := svc.Update(first.WAF); err != nil {
		t.Fatal(err)
	}
	if code, err := call("edge"); err != nil || code != 403 {
		t.Fatalf("Firewall edge: status %d, err %v; want 403", code, err)
	}
	// make: both names answer while proxies move to the next version.
	if err := svc.Update(withNames(first, next).WAF); err != nil {
		t.Fatal(err)
	}
	if code, err := call("edge"); err != nil || code != 403 {
		t.Errorf("during the transition, edge: status %d, err %v; want 403", code, err)
	}
	if code, err := call("edge2"); err != nil || code != 0 {
		t.Errorf("during the transition, edge2 (detection only): status %d, err %v; want passed", code, err)
	}
	// A client cannot pick the lenient Firewall with a request header of
	// the metadata's name: only the gRPC metadata Envoy sets counts.
	spoof = true
	if code, err := call("edge"); err != nil || code != 403 {
		t.Errorf("edge with a spoofed %s: edge2 header: status %d, err %v; want 403", wire.WAFPolicyMetadataKey, code, err)
	}
	spoof = false
	// break: the dropped Firewall is refused (fail closed), never passed.
	if err := svc.Update(next.WAF); err != nil {
		t.Fatal(err)
	}
	if _, err := call("edge"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("dropped Firewall edge: err %v, want FAILED_PRECONDITION", err)
	}
}
