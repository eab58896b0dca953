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
