package server

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
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

// TestPublishTrustsGivenCLAHashes: Publish takes the CLA hashes its caller
// computed (the controller's translate.HashedEndpoints) instead of hashing
// those CLAs again: a publish given the true hashes publishes the versions
// of one that hashes itself, and one given a false hash for one CLA (only
// possible here) publishes another endpoints version, so the given hash
// is what was used.
func TestPublishTrustsGivenCLAHashes(t *testing.T) {
	f := newFixture("gw", translate.ClientEnvoy, 50, 3)
	truth := map[types.Resource]uint64{}
	for _, cla := range f.clas {
		h, err := hashResource(cla)
		if err != nil {
			t.Fatal(err)
		}
		truth[cla] = h
	}
	versions := func(hashes map[types.Resource]uint64) map[string]string {
		t.Helper()
		p := newTestPublisher(t)
		if _, err := p.Publish(t.Context(), f.groups(), f.clas, hashes); err != nil {
			t.Fatal(err)
		}
		v, _ := p.Versions(f.key)
		return v
	}
	self := versions(nil)
	if got := versions(truth); !maps.Equal(got, self) {
		t.Fatalf("versions %v with the true hashes, %v without", got, self)
	}
	wrong := maps.Clone(truth)
	wrong[f.clas[edsName(7)]]++
	got := versions(wrong)
	if got["endpoints"] == self["endpoints"] {
		t.Fatal("a given hash was not used: the endpoints version is that of hashing every CLA")
	}
	got["endpoints"] = self["endpoints"]
	if !maps.Equal(got, self) {
		t.Fatalf("a CLA hash changed another type's version: %v, want %v", got, self)
	}
}
