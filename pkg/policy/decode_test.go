package policy

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDecodePresenceAndDefaults(t *testing.T) {
	s := Load(testFS(t, map[string]string{
		"x.yaml": `kind: Route
name: off
labels: {team: users}
spec:
  gateways: [gw]
  backends: [{service: a}]
  authentication: []
  rateLimit: none
---
kind: Route
name: plain
spec:
  gateways: [gw]
  backends: [{service: a}, {service: b, weight: 0}]
---
kind: Service
name: hc
spec:
  discovery: {static: [{address: 10.0.0.5, port: 80}]}
  healthCheck:
    tcp:
    interval: 1s
    timeout: 1s
`}), nil)
	if len(s.Rejected) != 0 {
		t.Fatalf("errors: %q", s.Errors())
	}
	off, plain := s.Routes["off"], s.Routes["plain"]
	if off.Spec.Authentication == nil || len(*off.Spec.Authentication) != 0 {
		t.Errorf("authentication: [] must decode as a non-nil empty list, got %v", off.Spec.Authentication)
	}
	if plain.Spec.Authentication != nil {
		t.Errorf("omitted authentication must stay nil")
	}
	if off.Labels["team"] != "users" || off.File != "x.yaml" || off.Line != 1 || plain.Line != 10 {
		t.Errorf("meta: %+v / %+v", off.Meta, plain.Meta)
	}
	// Defaults are the translator's job: nothing is filled in here.
	if plain.Spec.Hosts != nil || plain.Spec.Match.Path != (PathMatch{}) || plain.Spec.Backends[0].Weight != nil {
		t.Errorf("defaults filled in: %+v", plain.Spec)
	}
	if w := plain.Spec.Backends[1].Weight; w == nil || *w != 0 {
		t.Errorf("explicit weight 0 lost: %v", w)
	}
	if hc := s.Services["hc"].Spec.HealthCheck; hc.TCP == nil || hc.Interval.D().Seconds() != 1 {
		t.Errorf("tcp: (null) must count as present: %+v", hc)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	s := Load(testFS(t, map[string]string{
		"one.yaml": route + "  gateways: [gw]\n  backends: [{service: a, weight: x}]\n  timeout: soon\n  hosts: [\"A.example.com\"]\n",
		"sub/two.yaml": "kind: Service\nname: s2\nspec:\n  protocol: SOAP\n  discovery: {static: [{address: 127.0.0.1, port: 99999}]}\n" +
			"---\nkind: Nope\n",
	}), nil)
	want := []string{
		`one.yaml:5: Route/r: spec.backends[0].weight: expected an integer, got string "x"`,
		`one.yaml:6: Route/r: spec.timeout: invalid duration "soon"`,
		`one.yaml:7: Route/r: spec.hosts[0]: "A.example.com" is not a valid host`,
		`sub/two.yaml:4: Service/s2: spec.protocol: "SOAP" is not a service protocol`,
		`sub/two.yaml:5: Service/s2: spec.discovery.static[0].port: 99999 is out of range`,
		`sub/two.yaml:7: sub/two.yaml: kind: unknown kind "Nope"`,
	}
	got := s.Errors()
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestErrorsSortedByLine(t *testing.T) {
	y := route + "  gateways: [gw]\n  backends: [{service: a}]\n  match:\n    methods: [GET]\n    headers:\n      - {name: x-a}\n" // line 9
	y = strings.Replace(route, "name: r", "name: bad_", 1) + "  gateways: [gw]\n---\n" + y
	s := Load(testFS(t, map[string]string{"a.yaml": y}), nil)
	errs := s.Errors()
	for i := 1; i < len(errs); i++ {
		_, l1 := splitPos(errs[i-1])
		_, l2 := splitPos(errs[i])
		if l1 > l2 {
			t.Errorf("not sorted by line: %q before %q", errs[i-1], errs[i])
		}
	}
	if _, ok := findErr(s, "a.yaml:14: Route/r: spec.match.headers[0]: ", "set exactly one of"); !ok {
		t.Errorf("errors %q", errs)
	}
}

func TestPolicyDirectoryWalk(t *testing.T) {
	fsys := testFS(t, map[string]string{
		"sub/deeper/gw.yml": "kind: Gateway\nname: deep\nspec:\n  listeners:\n" +
			"    - {name: https, port: 8443, protocol: HTTPS, tls: {certificate: ../../certs/api.pem, key: ../../certs/api-key.pem}}\n",
		".hidden/bad.yaml":  "not: [valid",
		"sub/.swap.yaml":    "not: [valid",
		"README.md":         "kind: nonsense",
		"sub/empty.yaml":    "# only a comment\n---\n",
		"sub/skip.yaml.bak": "not: [valid",
	})
	s := Load(fsys, nil)
	if len(s.Rejected) != 0 {
		t.Fatalf("errors %q", s.Errors())
	}
	g := s.Gateways["deep"]
	if g == nil || g.File != "sub/deeper/gw.yml" || len(g.Spec.Listeners[0].TLS.CertificatePEM) == 0 || len(g.Spec.Listeners[0].TLS.KeyPEM) == 0 {
		t.Fatalf("gateway from subdirectory: %+v", g)
	}
}

func TestSyntaxErrorLines(t *testing.T) {
	cases := []struct{ yaml, prefix string }{
		// Reported where the parser noticed: the end of input on line 2.
		{"kind: [Route\n", "x.yaml:2: x.yaml: yaml: did not find expected ',' or ']'"},
		{"kind: Route\nspec:\n  a: *nope\n", "x.yaml:3: x.yaml: yaml: unknown anchor 'nope' referenced"},
		{"kind: Route\nname: r\n  spec: {}\n", "x.yaml:3: x.yaml: yaml: mapping values are not allowed"},
	}
	for _, tc := range cases {
		s := Load(fstest.MapFS{"x.yaml": {Data: []byte(tc.yaml)}}, nil)
		if _, ok := findErr(s, tc.prefix, ""); !ok {
			t.Errorf("%q: got %q, want prefix %q", tc.yaml, s.Errors(), tc.prefix)
		}
	}
}

// decoderLimitMallocs bounds the heap allocations of TestDecoderLimits's
// alias bomb: measured 355,104 with the node limit (2026-12-04), 13,582,978
// with its return removed by hand (the expansion carried on): the bound
// leaves more than 5 times the first and is under a sixth of the second.
const decoderLimitMallocs = 2_000_000

func TestDecoderLimits(t *testing.T) {
	// Aliases that expand to far more values than the text holds (each
	// listener alias brings 2,000 hostnames) are cut off, not expanded.
	var b strings.Builder
	b.WriteString("kind: Gateway\nname: g\nspec:\n  listeners:\n    - &l {name: a, port: 8443, protocol: HTTP, hostnames: [")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "h%d.example.com", i)
	}
	b.WriteString("]}\n")
	for i := 0; i < 1000; i++ {
		b.WriteString("    - *l\n")
	}
	// The bound is on work, not wall time (which a loaded machine
	// stretches): the heap allocations of the load, counted by the runtime
	// and the same on an idle or a busy machine. Within the limit the
	// decoder stops after maxDecodeNodes values; without it, it would
	// expand 2,000,000 hostnames, each several allocations.
	fsys := fstest.MapFS{"x.yaml": {Data: []byte(b.String())}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := Load(fsys, nil)
	runtime.ReadMemStats(&after)
	if _, ok := findErr(s, "x.yaml:", "aliases expand too much"); !ok {
		t.Fatalf("errors %q", s.Errors())
	}
	mallocs, bytes := after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
	t.Logf("alias bomb: %d allocations, %d MB allocated", mallocs, bytes>>20)
	if mallocs > decoderLimitMallocs {
		t.Errorf("alias bomb made %d heap allocations, want at most %d: the node limit no longer stops the expansion", mallocs, decoderLimitMallocs)
	}
	if n := len(s.Errors()); n > maxObjectErrors+1 {
		t.Errorf("%d error lines; want at most %d", n, maxObjectErrors+1)
	}
	// Merge keys are rejected rather than half-supported.
	s = Load(testFS(t, map[string]string{"m.yaml": "kind: Route\nname: r\nspec:\n  <<: {gateways: [gw]}\n  backends: [{service: a}]\n"}), nil)
	if _, ok := findErr(s, "m.yaml:4: Route/r: spec: ", "merge keys (<<) are not supported"); !ok {
		t.Errorf("errors %q", s.Errors())
	}
}

func TestMissingSpecIsOneError(t *testing.T) {
	s := Load(testFS(t, map[string]string{"x.yaml": "kind: Route\nname: r\n"}), nil)
	if errs := s.Errors(); len(errs) != 1 || errs[0] != "x.yaml:1: Route/r: spec: required" {
		t.Fatalf("errors %q", errs)
	}
}
