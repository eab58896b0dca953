package policy

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// BenchmarkLoad1000 measures a policy of 1,000 Services and 1,000 Routes.
func BenchmarkLoad1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("kind: Gateway\nname: gw\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "---\nkind: Service\nname: s%d\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: %d}]}\n", i, 1000+i)
		fmt.Fprintf(&sb, "---\nkind: Route\nname: r%d\nspec:\n  gateways: [gw]\n  hosts: [h%d.example.com]\n  match: {path: {prefix: /p%d}, methods: [GET]}\n  backends: [{service: s%d}]\n  timeout: 5s\n", i, i%10, i, i)
	}
	fsys := fstest.MapFS{"all.yaml": {Data: []byte(sb.String())}}
	b.ReportAllocs()
	for b.Loop() {
		if s := Load(fsys, nil); len(s.Rejected) != 0 || len(s.Routes) != 1000 {
			b.Fatalf("errors %q", s.Errors()[:1])
		}
	}
}

// BenchmarkLoadAuthorizations100 measures 100 Rego Authorizations, each a
// distinct module: "cold" compiles every module (an empty cache, as on the
// first load), "warm" is a reload where no module changed.
func BenchmarkLoadAuthorizations100(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, "---\nkind: Authorization\nname: z%d\nspec:\n  inline: |\n    package envoy.authz\n    default allow := false\n"+
			"    allow if {\n      input.attributes.request.http.method == \"GET\"\n      startswith(input.attributes.request.http.path, \"/p%d\")\n      \"g%d\" in input.gatehouse.groups\n    }\n", i, i, i)
	}
	fsys := fstest.MapFS{"all.yaml": {Data: []byte(sb.String())}}
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if mode == "cold" {
					regoCache.Lock()
					clear(regoCache.m)
					regoCache.Unlock()
				}
				if s := Load(fsys, nil); len(s.Rejected) != 0 || len(s.Authorizations) != 100 {
					b.Fatalf("errors %q", s.Errors())
				}
			}
		})
	}
}
