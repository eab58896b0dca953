package consul

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/storetest"
	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
)

func newStore(t *testing.T, addr, prefix string, mod ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{Address: addr, Prefix: prefix}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bg() context.Context { return context.Background() }

// TestConformance runs the shared store tests against a real agent, each
// on a prefix of its own, with two clients standing for two replicas.
func TestConformance(t *testing.T) {
	agent := consultest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) (store.Store, store.Store) {
		prefix := fmt.Sprintf("gatehouse/conformance-%d", n.Add(1))
		return newStore(t, agent.Addr, prefix), newStore(t, agent.Addr, prefix)
	})
}

// Keys put with the consul CLI (not through a commit) are a new revision:
// a commit based on the revision before them is refused, and they get a
// history entry of their own.
func TestHandEditsInKV(t *testing.T) {
	agent := consultest.Start(t)
	s := newStore(t, agent.Addr, "gh")
	kv := agent.Client().KV()
	// Keys present before the first commit start the history.
	_, err := kv.Put(&api.KVPair{Key: "gh/files/a.yaml", Value: []byte("1")}, nil)
	must(t, err)
	_, err = kv.Put(&api.KVPair{Key: "gh/files/folder/", Value: nil}, nil) // a UI folder: no file
	must(t, err)
	_, err = kv.Put(&api.KVPair{Key: "gh/files/.notes/todo", Value: []byte("x")}, nil) // hidden: skipped
	must(t, err)
	r1, err := s.Commit(bg(), "", []store.Change{{Path: "b.yaml", Content: []byte("2")}}, store.Meta{Author: "alice"})
	must(t, err)
	_, err = kv.Put(&api.KVPair{Key: "gh/files/a.yaml", Value: []byte("edited")}, nil)
	must(t, err)
	tr, err := s.Read(bg())
	must(t, err)
	if tr.Revision == r1.ID || string(tr.Files["a.yaml"]) != "edited" || len(tr.Files) != 2 {
		t.Fatalf("after a hand edit: %s %q", tr.Revision, tr.Files)
	}
	if _, err := s.Commit(bg(), r1.ID, []store.Change{{Path: "c.yaml", Content: []byte("3")}}, store.Meta{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit on the revision before a hand edit: err = %v", err)
	}
	hist, err := s.History(bg(), 0)
	must(t, err)
	var got []string
	for _, h := range hist {
		got = append(got, h.Author+":"+strings.Join(h.Changed, ","))
	}
	want := "(outside gatehouse):a.yaml|alice:b.yaml|(outside gatehouse):a.yaml"
	if strings.Join(got, "|") != want {
		t.Fatalf("history %q, want %q", strings.Join(got, "|"), want)
	}
	back, err := s.ReadAt(bg(), hist[0].ID)
	must(t, err)
	if string(back.Files["a.yaml"]) != "edited" {
		t.Fatalf("ReadAt(hand edit) = %q", back.Files)
	}
}

// Values over Consul's limit and transactions over its limits are refused
// before Consul is asked, with what to do; nothing is stored.
func TestLimits(t *testing.T) {
	agent := consultest.Start(t)
	s := newStore(t, agent.Addr, "lim")
	_, err := s.Commit(bg(), "", []store.Change{{Path: "big.json", Content: make([]byte, maxValueSize+1)}}, store.Meta{})
	if err == nil || !strings.Contains(err.Error(), "big.json: 524289 bytes, more than the 524288") {
		t.Fatalf("value over 512 KiB: err = %v", err)
	}
	var many []store.Change
	for i := range 70 {
		many = append(many, store.Change{Path: fmt.Sprintf("f%d.yaml", i), Content: []byte(fmt.Sprint(i))})
	}
	_, err = s.Commit(bg(), "", many, store.Meta{})
	if err == nil || !strings.Contains(err.Error(), "too large for one Consul transaction (143 operations") {
		t.Fatalf("70 files: err = %v", err)
	}
	_, err = s.Commit(bg(), "", []store.Change{{Path: "a.json", Content: bytes.Repeat([]byte("a"), 300<<10)}}, store.Meta{})
	if err == nil || !strings.Contains(err.Error(), "too large for one Consul transaction") {
		t.Fatalf("300 KiB twice: err = %v", err)
	}
	tr, err := s.Read(bg())
	must(t, err)
	if len(tr.Files) != 0 {
		t.Fatalf("refused commits stored %d files", len(tr.Files))
	}
	// Just under the limits it goes through.
	_, err = s.Commit(bg(), "", many[:60], store.Meta{})
	must(t, err)
}

// The history keeps HistoryLimit revisions and deletes the blobs only the
// dropped ones named.
func TestHistoryBounded(t *testing.T) {
	agent := consultest.Start(t)
	s := newStore(t, agent.Addr, "hb", func(c *Config) { c.HistoryLimit = 3 })
	var revs []string
	for i := range 6 {
		r, err := s.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte(fmt.Sprint(i))}}, store.Meta{})
		must(t, err)
		revs = append(revs, r.ID)
	}
	hist, err := s.History(bg(), 0)
	must(t, err)
	if len(hist) != 3 || hist[0].ID != revs[5] || hist[2].ID != revs[3] {
		t.Fatalf("history = %+v, want the last 3", hist)
	}
	if _, err := s.ReadAt(bg(), revs[2]); !errors.Is(err, store.ErrUnknownRevision) {
		t.Fatalf("ReadAt(dropped) err = %v", err)
	}
	keys, _, err := agent.Client().KV().Keys("hb/blobs/", "", nil)
	must(t, err)
	if len(keys) != 3 {
		t.Fatalf("%d blobs kept, want the 3 the kept revisions name: %v", len(keys), keys)
	}
}

// An agent that is down is ErrUnavailable for every call; the watch
// notifies when it goes and when it is back, so a reader sees both.
func TestUnavailable(t *testing.T) {
	agent := consultest.Start(t)
	s := newStore(t, agent.Addr, "down", func(c *Config) {
		c.ReadTimeout = 2 * time.Second
		c.BackoffMax = 500 * time.Millisecond
	})
	_, err := s.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte("1")}}, store.Meta{})
	must(t, err)
	ctx, cancel := context.WithCancel(bg())
	defer cancel()
	notified := make(chan struct{}, 100)
	ready := make(chan struct{})
	go s.Watch(ctx, func() { notified <- struct{}{} }, func() { close(ready) })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("watch not ready")
	}
	agent.Kill()
	start := time.Now()
	select {
	case <-notified:
		t.Logf("outage noticed by the watch after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("no notification within 15s of the agent going down")
	}
	for name, call := range map[string]func() error{
		"Read":    func() error { _, err := s.Read(bg()); return err },
		"Commit":  func() error { _, err := s.Commit(bg(), "", nil, store.Meta{}); return err },
		"History": func() error { _, err := s.History(bg(), 0); return err },
		"ReadAt":  func() error { _, err := s.ReadAt(bg(), "x"); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the agent down: err = %v, want ErrUnavailable", name, err)
		}
	}
	// The watch notifies once per outage: what is buffered now is the
	// outage's; the next one is the recovery (which may come before
	// Restart returns).
	for len(notified) > 0 {
		<-notified
	}
	agent.Restart() // a dev agent keeps nothing: the store comes back empty
	select {
	case <-notified:
	case <-time.After(15 * time.Second):
		t.Fatal("no notification within 15s of the agent coming back")
	}
	tr, err := s.Read(bg())
	must(t, err)
	if len(tr.Files) != 0 {
		t.Fatalf("files after the restart of a dev agent: %v", tr.Files)
	}
}

// An ACL token without access to the prefix is a clear error, not an
// outage.
func TestACLDenied(t *testing.T) {
	agent := consultest.Start(t, consultest.WithACL("0b8c7f0e-1111-4a4a-9a9a-000000000002"))
	s := newStore(t, agent.Addr, "acl", func(c *Config) { c.Token = "0b8c7f0e-2222-4a4a-9a9a-000000000009" })
	_, err := s.Read(bg())
	if err == nil || errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), `the token needs key_prefix "acl/"`) {
		t.Fatalf("unknown token: err = %v", err)
	}
	ok := newStore(t, agent.Addr, "acl", func(c *Config) { c.Token = "0b8c7f0e-1111-4a4a-9a9a-000000000002" })
	_, err = ok.Commit(bg(), "", []store.Change{{Path: "a.yaml", Content: []byte("1")}}, store.Meta{})
	must(t, err)
}

func TestNewChecksPrefix(t *testing.T) {
	for _, p := range []string{"", "/", "a//b", "a/../b", "./a", "a?b", "a#b", "a b", "a%2fb"} {
		if _, err := New(Config{Prefix: p}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackoff(t *testing.T) {
	base, ceiling := 200*time.Millisecond, 5*time.Second
	for n, want := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 6: ceiling, 50: ceiling} {
		for range 20 {
			if d := backoff(n, base, ceiling); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
}
