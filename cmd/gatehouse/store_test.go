package main

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

func TestStoreURL(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		o         serveOptions
		want, err string
	}{
		{o: serveOptions{policyDir: dir}, want: "dir://" + dir},
		{o: serveOptions{store: "consul://127.0.0.1:8500/g"}, want: "consul://127.0.0.1:8500/g"},
		{o: serveOptions{policyDir: dir, store: "dir://" + dir}, err: "either --policy-dir or --store, not both"},
		{o: serveOptions{}, err: "--policy-dir DIR or --store"},
		{o: serveOptions{policyDir: dir + "/missing"}, err: "is not a readable directory"},
	} {
		got, err := tc.o.storeURL()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.o, got, err, tc.want)
		}
	}
}

// The store's state is in `gatehouse status` and the metrics: up with
// its revision, then unreadable while the last good policy is served.
func TestStoreStatusAndMetrics(t *testing.T) {
	now := time.Now()
	h := store.NewHealth("consul://127.0.0.1:8500/g")
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStoreCollector(h))
	var b strings.Builder
	st := h.Status()
	printStore(&b, &st, now)
	if b.String() != "Policy store consul://127.0.0.1:8500/g: not read yet\n" {
		t.Errorf("before any read: %q", b.String())
	}

	h.Observe(&store.Tree{Revision: "0123456789abcdef"}, nil, now.Add(-time.Minute))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_store_revision_info The revision of the policy last read from the store (always 1).
# TYPE gatehouse_store_revision_info gauge
gatehouse_store_revision_info{revision="0123456789abcdef"} 1
# HELP gatehouse_store_up Whether the last read of the policy store succeeded (1) or not (0); the last good policy keeps being served.
# TYPE gatehouse_store_up gauge
gatehouse_store_up 1
`), "gatehouse_store_up", "gatehouse_store_revision_info"); err != nil {
		t.Error(err)
	}

	h.Observe(nil, store.ErrUnavailable, now)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_store_up Whether the last read of the policy store succeeded (1) or not (0); the last good policy keeps being served.
# TYPE gatehouse_store_up gauge
gatehouse_store_up 0
`), "gatehouse_store_up"); err != nil {
		t.Error(err)
	}
	b.Reset()
	st = h.Status()
	printStore(&b, &st, now)
	want := "Policy store consul://127.0.0.1:8500/g: UNREADABLE (serving the last good policy; revision 0123456789abcdef was read 1m0s ago)\n" +
		"  last error (0s ago): policy store unavailable\n"
	if b.String() != want {
		t.Errorf("after a failed read:\n%q\nwant\n%q", b.String(), want)
	}
}
