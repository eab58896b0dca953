package explain

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func TestDiffNothing(t *testing.T) {
	in := shopInputs(t)
	cs, err := Diff(in.Groups, in.Groups)
	if err != nil || len(cs) != 0 {
		t.Fatalf("same input: %v %+v", err, cs)
	}
	// A second translation of the same policy is the same plan: nothing.
	again := shopInputs(t)
	if cs, _ := Diff(in.Groups, again.Groups); len(cs) != 0 {
		t.Fatalf("retranslation: %+v", cs)
	}
	if Summary(cs) != "no Envoy resource changes" {
		t.Errorf("summary %q", Summary(cs))
	}
}

func changeText(cs []Change) []string {
	var out []string
	for _, c := range cs {
		s := fmt.Sprintf("%s %s %s %s", c.Group, c.Type, c.Name, c.Op)
		for _, f := range c.Fields {
			s += fmt.Sprintf("\n  %s: %s -> %s", f.Path, f.Before, f.After)
		}
		if c.More > 0 {
			s += fmt.Sprintf("\n  +%d", c.More)
		}
		out = append(out, s)
	}
	return out
}

func TestDiffChanges(t *testing.T) {
	before := shopInputs(t)
	// The orders timeout changes, a Service is added behind a new Route,
	// the old site Service goes.
	changed := strings.Replace(shopPolicy, "  timeout: 3s\n", "  timeout: 5s\n", 1)
	changed = strings.Replace(changed, "  backends: [{service: site}]", "  backends: [{service: orders}]", 1)
	after := inputsOf(t, changed)
	cs, err := Diff(before.Groups, after.Groups)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(changeText(cs), "\n")
	want := strings.Join([]string{
		"shop/envoy cluster svc/site removed",
		"shop/envoy route routes/shop/http changed\n" +
			`  virtual_hosts[*].routes[site].route.cluster: "svc/site" -> "svc/orders"` + "\n" +
			`  virtual_hosts[api.example.com].routes[orders].route.timeout: "3s" -> "5s"`,
	}, "\n")
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if s := Summary(cs); s != "1 changed, 1 removed" {
		t.Errorf("summary %q", s)
	}
	// Deterministic: the same two inputs, the same plan.
	cs2, _ := Diff(before.Groups, after.Groups)
	if !reflect.DeepEqual(cs, cs2) {
		t.Error("two diffs of the same inputs differ")
	}
}

func TestDiffWholeGroupsAndSecrets(t *testing.T) {
	in := goldenCases(t)["https"]
	cs, err := Diff(nil, in.Groups)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range in.Groups {
		n += len(g.Listeners) + len(g.Routes) + len(g.Clusters) + len(g.Secrets)
	}
	if len(cs) != n {
		t.Fatalf("%d changes for %d resources", len(cs), n)
	}
	for _, c := range cs {
		if c.Op != "added" {
			t.Fatalf("%+v", c)
		}
	}
	if cs, _ := Diff(in.Groups, nil); len(cs) != n || cs[0].Op != "removed" {
		t.Fatalf("removal: %d", len(cs))
	}
	// A changed certificate shows where, never the key or certificate.
	other := goldenCases(t)["https"]
	for k, g := range other.Groups {
		if len(g.Secrets) == 0 {
			continue
		}
		c := *g
		c.Secrets = append(c.Secrets[:0:0], g.Secrets...)
		c.Secrets[0] = cloneSecretWithKey(t, g.Secrets[0], "-----BEGIN PRIVATE KEY-----\nsecret\n")
		other.Groups[k] = &c
	}
	cs, err = Diff(in.Groups, other.Groups)
	if err != nil || len(cs) != 1 || cs[0].Type != "secret" || len(cs[0].Fields) != 1 {
		t.Fatalf("%v %+v", err, cs)
	}
	if f := cs[0].Fields[0]; f.Before != "(secret value)" || f.After != "(secret value)" || !strings.Contains(f.Path, "private_key") {
		t.Errorf("secret field %+v", f)
	}
}

func TestDiffCutsLongChanges(t *testing.T) {
	var b, a []any
	for i := 0; i < 30; i++ {
		b = append(b, i)
		a = append(a, i+1)
	}
	var n int
	walkDiff("", map[string]any{"x": b}, map[string]any{"x": a}, func(string, any, any) { n++ })
	if n != 30 {
		t.Fatalf("%d leaf changes", n)
	}
	long := strings.Repeat("v", 200)
	if s := show(long); len(s) != maxValueLen || !strings.HasSuffix(s, "...") {
		t.Errorf("show: %d %q", len(s), s)
	}
}

func cloneSecretWithKey(t *testing.T, r types.Resource, key string) types.Resource {
	t.Helper()
	s := proto.Clone(r).(*tlsv3.Secret)
	s.GetTlsCertificate().PrivateKey = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: []byte(key)}}
	return s
}

// PolicyDiff translates two policy trees and diffs them: adding a Route
// shows as the changed route table of its Gateway, nothing else.
func TestPolicyDiff(t *testing.T) {
	before := fstest.MapFS{
		"gw.yaml":  {Data: []byte("kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n")},
		"svc.yaml": {Data: []byte("kind: Service\nname: app\nspec:\n  discovery:\n    static:\n      - {address: 127.0.0.1, port: 9000}\n")},
		"r1.yaml":  {Data: []byte("kind: Route\nname: r1\nspec:\n  gateways: [public]\n  match: {path: {prefix: /a}}\n  backends: [{service: app}]\n")},
	}
	after := fstest.MapFS{}
	for k, v := range before {
		after[k] = v
	}
	after["r2.yaml"] = &fstest.MapFile{Data: []byte("kind: Route\nname: r2\nspec:\n  gateways: [public]\n  match: {path: {prefix: /b}}\n  backends: [{service: app}]\n")}
	cs, err := PolicyDiff(before, after, policy.Options{}, translate.Options{AuthzAddr: "127.0.0.1:18000", RateLimitAddr: "127.0.0.1:18000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatal("adding a Route changed no Envoy resource")
	}
	for _, c := range cs {
		if c.Type != "route" || c.Op != "changed" || c.Group != "public/envoy" && c.Group != "public/grpc" {
			t.Errorf("unexpected change %+v: adding a Route changes only the route tables of its Gateway", c)
		}
	}
	same, err := PolicyDiff(before, before, policy.Options{}, translate.Options{AuthzAddr: "127.0.0.1:18000", RateLimitAddr: "127.0.0.1:18000"})
	if err != nil || len(same) != 0 {
		t.Fatalf("the same policy twice: %v, %v", same, err)
	}
}
