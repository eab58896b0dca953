package explain

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func assertFits(t *testing.T, text string) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if len(l) > Width {
			t.Errorf("line %d has %d columns: %q", i+1, len(l), l)
		}
	}
}

func TestWriteTextFitsAndSays(t *testing.T) {
	in := shopInputs(t)
	put := inputsOf(t, strings.Replace(shopPolicy, "    methods: [POST]\n", "    methods: [PUT]\n", 1))
	for _, c := range []struct {
		in   Inputs
		req  Request
		says []string
	}{
		{in, Request{Gateway: "shop", Host: "api.example.com:8080", Path: "/orders/7", Method: "POST", Headers: []KV{{"x-tenant", strings.Repeat("t", 150)}}, Consumer: "acme", ClientIP: "10.1.2.3"},
			[]string{"MATCHED: path /orders/7 is /orders or under /orders/", "route orders (Route/orders, policy.yaml:72)",
				"svc/orders (Service orders) weight 3, 75% of requests, 1 endpoint(s) now", "authentication: any one of",
				"a request with none: 401", "authorization: partners-only (fails closed)", "[sent] ratelimit=strict#0",
				"counts against Plan/gold of Consumer/acme", "bucket: 5 requests per 1s per Envoy"}},
		{in, Request{Gateway: "shop", Host: "api.example.com", Path: "/orders", Method: "GET"},
			[]string{"skipped: method GET does not match POST", "NO ROUTE: no route of virtual host api.example.com"}},
		{put, Request{Gateway: "shop", Client: translate.ClientGRPC, Host: "api.example.com", Path: "/orders/" + strings.Repeat("x", 180)},
			[]string{"not part of a proxyless gRPC call's metadata"}},
	} {
		res := explainOK(t, c.in, c.req)
		var b bytes.Buffer
		if err := WriteText(&b, res); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		assertFits(t, out)
		flat := strings.Join(strings.Fields(out), " ")
		for _, s := range c.says {
			if !strings.Contains(flat, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
}

func TestWriteDiffText(t *testing.T) {
	before := shopInputs(t)
	after := inputsOf(t, strings.Replace(shopPolicy, "  timeout: 3s\n", "  timeout: 5s\n", 1))
	cs, err := Diff(before.Groups, after.Groups)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteDiffText(&b, cs); err != nil {
		t.Fatal(err)
	}
	want := "Gateway shop (envoy clients):\n" +
		"  ~ route routes/shop/http\n" +
		"      virtual_hosts[api.example.com].routes[orders].route.timeout: \"3s\" -> \"5s\"\n" +
		"1 changed\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
