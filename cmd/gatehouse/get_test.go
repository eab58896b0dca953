package main

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
)

// The table's summary says where a Route sends a request: its backends, a
// redirect or a direct response.
func TestGetSummary(t *testing.T) {
	for _, tc := range []struct{ kind, doc, want string }{
		{"Route", `{"spec":{"hosts":["a.test"],"backends":[{"service":"app"},{"service":"v2"}]}}`, "a.test -> app,v2"},
		{"Route", `{"spec":{"redirect":{"scheme":"https"}}}`, "* redirect 301"},
		{"Route", `{"spec":{"redirect":{"code":308}}}`, "* redirect 308"},
		{"Route", `{"spec":{"directResponse":{"status":503}}}`, "* answers 503"},
		{"Gateway", `{"spec":{"listeners":[{"name":"http","port":8080}]}}`, "http:8080"},
		{"Service", `{"spec":{"discovery":{"consul":{"service":"web"}}}}`, "consul web"},
	} {
		if got := summary(api.Object{Kind: tc.kind, Object: []byte(tc.doc)}); got != tc.want {
			t.Errorf("%s %s: summary %q, want %q", tc.kind, tc.doc, got, tc.want)
		}
	}
}
