package authz

import (
	"testing"
)

// BenchmarkBuildInput is the CheckRequest -> Rego input conversion alone.
func BenchmarkBuildInput(b *testing.B) {
	r := req{path: "/people/1?lang=en", headers: map[string]string{
		"authorization": "Bearer x.y.z", "user-agent": "curl/8.5.0", "accept": "*/*",
		"x-forwarded-proto": "http", "x-request-id": "1455bbb0-0623-4810-a2c6-df73ffd8863a",
	}, ext: ext("r", "", "p"), jwt: map[string]any{"corp-jwt": map[string]any{"sub": "alice", "exp": 2e9}}}.build(b)
	gh := gatehouseTerm("public", "r", "p", identity{consumer: "acme", groups: []string{"partners"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := buildInput(r, 0, gh); err != nil {
			b.Fatal(err)
		}
	}
}
