package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

func TestTypeVersion(t *testing.T) {
	var scratch []byte
	v := func(names []string, hashes ...uint64) string { return typeVersion(names, hashes, &scratch) }
	base := v([]string{"a", "b"}, 1, 2)
	if base != v([]string{"a", "b"}, 1, 2) {
		t.Fatal("not deterministic")
	}
	for name, other := range map[string]string{
		"hash":     v([]string{"a", "b"}, 1, 3),
		"name":     v([]string{"a", "c"}, 1, 2),
		"boundary": v([]string{"ab", ""}, 1, 2),
		"fewer":    v([]string{"a"}, 1),
		"empty":    v(nil),
	} {
		if other == base {
			t.Errorf("%s change kept version %s", name, base)
		}
	}
	if len(base) != 16 {
		t.Errorf("version %q: want 16 hex digits", base)
	}
}

func TestHashAllMatchesSequential(t *testing.T) {
	items := make([]types.Resource, 300)
	idx := make([]int, 0, len(items))
	for i := range items {
		items[i] = testCLA(edsName(i), 1000+i, 3)
		if i%3 != 0 { // hash only some, as Publish does
			idx = append(idx, i)
		}
	}
	got := make([]uint64, len(items))
	if err := hashAll(items, idx, got); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i := range items {
		if i%3 == 0 {
			if got[i] != 0 {
				t.Fatalf("item %d hashed but not asked for", i)
			}
			continue
		}
		want, err := hashResource(items[i])
		if err != nil {
			t.Fatal(err)
		}
		if got[i] != want {
			t.Fatalf("item %d: parallel hash %x, sequential %x", i, got[i], want)
		}
		if seen[want] {
			t.Fatalf("item %d: hash collision among distinct resources", i)
		}
		seen[want] = true
	}
}

func TestProxyStatusJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(ProxyStatus{
		NodeID: "n", Gateway: "gw", Client: "envoy", UserAgent: "envoy/1.36.0", Address: "127.0.0.1:5000", Protocol: "delta", ConnectedSince: at,
		Types: map[string]TypeStatus{TypeListeners: {Sent: "b", Acked: "a", NACK: &NACK{Error: "bad", Version: "b", At: at}, NACKs: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"node_id":"n","gateway":"gw","client":"envoy","user_agent":"envoy/1.36.0","address":"127.0.0.1:5000",` +
		`"protocol":"delta","connected_since":"2026-01-02T03:04:05Z","types":{"listeners":{"sent":"b","acked":"a",` +
		`"nack":{"error":"bad","version":"b","at":"2026-01-02T03:04:05Z"},"nacks":1}}}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
	if strings.Contains(string(b), "note") {
		t.Fatal("empty note must be omitted")
	}
}
