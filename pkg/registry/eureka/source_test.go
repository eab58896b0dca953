package eureka

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/test/eureka/eurekatest"
)

// updates records what a Source reports.
type updates struct {
	mu   sync.Mutex
	last registry.Snapshot
	n    int
}

func (u *updates) set(s registry.Snapshot) {
	u.mu.Lock()
	u.last, u.n = s, u.n+1
	u.mu.Unlock()
}

func (u *updates) get() (registry.Snapshot, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.n
}

// addrs is the sorted "ip:port" list of svc's endpoints, nil if absent.
func addrs(s registry.Snapshot, svc string) []string {
	eps, ok := s[svc]
	if !ok {
		return nil
	}
	out := []string{}
	for _, e := range eps {
		out = append(out, e.Address+":"+strconv.Itoa(e.Port))
	}
	return out
}

// run starts a Source on servers watching policy Service "cart" (Eureka
// app CART) until the test ends.
func run(t *testing.T, cfg Config, svc Service) (*Source, *updates) {
	t.Helper()
	u := &updates{}
	cfg.OnUpdate = u.set
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	cfg.Timeout = 2 * time.Second
	src := New(cfg)
	src.SetServices(map[string]Service{"cart": svc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not end within 10s of its context")
		}
	})
	return src, u
}

func cartSvc() Service { return Service{EurekaDiscovery: policy.EurekaDiscovery{App: "cart"}} }

// waitFor polls until ok holds of the last snapshot, or fails past bound.
func waitFor(t *testing.T, u *updates, what string, bound time.Duration, ok func(registry.Snapshot) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if s, _ := u.get(); s != nil && ok(s) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, _ := u.get()
	t.Fatalf("%s: not within %v; last snapshot %v", what, bound, s)
	return 0
}

func has(want ...string) func(registry.Snapshot) bool {
	return func(s registry.Snapshot) bool {
		got := addrs(s, "cart")
		if got == nil || len(got) != len(want) {
			return false
		}
		for i := range want {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
}

func waitUntil(t *testing.T, what string, bound time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if ok() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, bound)
	return 0
}

// TestSourceFullThenDelta: a full fetch first, then deltas; a new
// instance, a status override (OUT_OF_SERVICE) and a cancel each reach
// the snapshot through the delta alone, with the hash code agreeing.
func TestSourceFullThenDelta(t *testing.T) {
	srv := eurekatest.Start(t)
	srv.Register(eurekatest.Instance("cart", "a", "10.0.0.1", 8080, "z1"))
	srv.Register(eurekatest.Instance("cart", "b", "10.0.0.2", 8080, "z2"))
	srv.Register(eurekatest.Instance("orders", "o", "10.0.1.1", 9000, ""))
	src, u := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	waitFor(t, u, "first fetch", 5*time.Second, has("10.0.0.1:8080", "10.0.0.2:8080"))
	if !src.Synced() || !src.Up() {
		t.Errorf("synced %v up %v", src.Synced(), src.Up())
	}

	srv.Register(eurekatest.Instance("cart", "c", "10.0.0.3", 8080, "z1"))
	took := waitFor(t, u, "scale up", 5*time.Second, has("10.0.0.1:8080", "10.0.0.3:8080", "10.0.0.2:8080"))
	t.Logf("registration -> snapshot: %v (poll interval 50ms)", took.Round(time.Millisecond))
	srv.SetStatus("cart", "a", "OUT_OF_SERVICE")
	waitFor(t, u, "out of service", 5*time.Second, has("10.0.0.3:8080", "10.0.0.2:8080"))
	srv.Cancel("cart", "c")
	waitFor(t, u, "cancel", 5*time.Second, has("10.0.0.2:8080"))

	st := src.Status()
	if st.Fetches.Full != 1 || st.Fetches.Delta == 0 || st.Fetches.HashMismatches != 0 {
		t.Errorf("fetches %+v: want 1 full, deltas, no mismatch", st.Fetches)
	}
	if st.HashCode != "OUT_OF_SERVICE_1_UP_2_" || st.Instances != 3 {
		t.Errorf("hash %q, instances %d", st.HashCode, st.Instances)
	}
	if len(st.Services) != 1 || st.Services[0].State != "ok" || st.Services[0].NotUp["OUT_OF_SERVICE"] != 1 {
		t.Errorf("services %+v", st.Services)
	}
	if srv.Requests("GET /apps") != 1 {
		t.Errorf("GET /apps asked %d times, want 1", srv.Requests("GET /apps"))
	}
}

// TestSourceHashMismatchFetchesAll: a delta that misses a change (the
// server's queue dropped it) leaves the mirror at another hash code than
// the server's; the source then reads everything, and the change arrives.
func TestSourceHashMismatchFetchesAll(t *testing.T) {
	srv := eurekatest.Start(t)
	srv.Register(eurekatest.Instance("cart", "a", "10.0.0.1", 8080, ""))
	src, u := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	waitFor(t, u, "first fetch", 5*time.Second, has("10.0.0.1:8080"))
	srv.DropDelta(true)
	srv.Register(eurekatest.Instance("cart", "b", "10.0.0.2", 8080, ""))
	waitFor(t, u, "b through a full fetch", 5*time.Second, has("10.0.0.1:8080", "10.0.0.2:8080"))
	st := src.Status()
	if st.Fetches.HashMismatches == 0 || st.Fetches.Full < 2 {
		t.Errorf("fetches %+v: want a hash mismatch and a second full fetch", st.Fetches)
	}
}

// TestSourceFailover: with the first server gone, the second answers (a
// full fetch from it, since its delta queue is not the first's), and the
// source stays up; endpoints are never emptied on the way.
func TestSourceFailover(t *testing.T) {
	a, b := eurekatest.Start(t), eurekatest.Start(t)
	for _, s := range []*eurekatest.Server{a, b} { // peers replicate registrations
		s.Register(eurekatest.Instance("cart", "x", "10.0.0.1", 8080, ""))
	}
	src, u := run(t, Config{Servers: []string{a.URL, b.URL}}, cartSvc())
	waitFor(t, u, "first fetch", 5*time.Second, has("10.0.0.1:8080"))
	a.Stop()
	b.Register(eurekatest.Instance("cart", "y", "10.0.0.2", 8080, ""))
	took := waitFor(t, u, "y from the second server", 5*time.Second, has("10.0.0.1:8080", "10.0.0.2:8080"))
	t.Logf("first server stopped -> change read from the second: %v", took.Round(time.Millisecond))
	st := src.Status()
	if st.Server != b.URL || st.Fetches.Failovers != 1 || !st.Reachable {
		t.Errorf("server %s failovers %d reachable %v; want %s, 1, true", st.Server, st.Fetches.Failovers, st.Reachable, b.URL)
	}
	if b.Requests("GET /apps") != 1 {
		t.Errorf("the second server got %d full fetches, want 1", b.Requests("GET /apps"))
	}
	// It stays with the second server (no flapping back to the first).
	n := a.Requests("GET /apps/delta")
	time.Sleep(300 * time.Millisecond)
	if src.Status().Server != b.URL || a.Requests("GET /apps/delta") != n {
		t.Errorf("went back to the first server")
	}
}

// TestSourceOutageKeepsEndpoints: with every server gone the last known
// endpoints stay (no update empties them), Up is false with the error in
// status; back, it reads everything again and is up.
func TestSourceOutageKeepsEndpoints(t *testing.T) {
	srv := eurekatest.Start(t)
	srv.Register(eurekatest.Instance("cart", "a", "10.0.0.1", 8080, ""))
	src, u := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	waitFor(t, u, "first fetch", 5*time.Second, has("10.0.0.1:8080"))
	_, before := u.get()
	srv.Stop()
	waitUntil(t, "down", 5*time.Second, func() bool { return !src.Up() })
	time.Sleep(300 * time.Millisecond) // several failed polls
	if s, n := u.get(); n != before || !has("10.0.0.1:8080")(s) {
		t.Errorf("during the outage: %d updates (before %d), endpoints %v", n, before, addrs(s, "cart"))
	}
	st := src.Status()
	if st.Reachable || !strings.Contains(st.LastError, srv.Addr) || !st.Synced {
		t.Errorf("status during outage: %+v", st)
	}
	full := srv.Requests("GET /apps")
	srv.Register(eurekatest.Instance("cart", "b", "10.0.0.2", 8080, "")) // while down (not asked)
	srv.Restart()
	waitFor(t, u, "after the outage", 5*time.Second, has("10.0.0.1:8080", "10.0.0.2:8080"))
	waitUntil(t, "up again", 5*time.Second, src.Up)
	if srv.Requests("GET /apps") != full+1 {
		t.Errorf("after an outage: %d full fetches, want one more than %d", srv.Requests("GET /apps"), full)
	}
}

// TestSourceNotSyncedUntilRead: a source whose servers never answered is
// not synced and reports nothing (so no empty cluster is pushed).
func TestSourceNotSyncedUntilRead(t *testing.T) {
	srv := eurekatest.Start(t)
	srv.Stop()
	src, u := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	waitUntil(t, "an error in status", 5*time.Second, func() bool { return src.Status().LastError != "" })
	if src.Synced() || src.Up() {
		t.Errorf("synced %v up %v with no answer", src.Synced(), src.Up())
	}
	if _, n := u.get(); n != 0 {
		t.Errorf("%d updates before any answer", n)
	}
	srv.Restart()
	waitUntil(t, "synced", 5*time.Second, src.Synced)
	waitFor(t, u, "empty but read", 5*time.Second, func(s registry.Snapshot) bool { _, ok := s["cart"]; return ok })
	if st := src.Status(); st.Services[0].State != "application not registered" {
		t.Errorf("state %q", st.Services[0].State)
	}
}

// TestSourceBasicAuth: wrong credentials are an error in status and never
// a sync; right ones read the registry. The password never shows.
func TestSourceBasicAuth(t *testing.T) {
	srv := eurekatest.Start(t, eurekatest.BasicAuth("gatehouse", "s3cret-pass"))
	srv.Register(eurekatest.Instance("cart", "a", "10.0.0.1", 8080, ""))
	bad, _ := run(t, Config{Servers: []string{srv.URL}, Username: "gatehouse", Password: "wrong"}, cartSvc())
	waitUntil(t, "401 in status", 5*time.Second, func() bool { return strings.Contains(bad.Status().LastError, "401") })
	if bad.Synced() {
		t.Error("synced with wrong credentials")
	}
	none, _ := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	waitUntil(t, "401 without credentials", 5*time.Second, func() bool { return strings.Contains(none.Status().LastError, "401") })
	_, u := run(t, Config{Servers: []string{srv.URL}, Username: "gatehouse", Password: "s3cret-pass"}, cartSvc())
	waitFor(t, u, "read with credentials", 5*time.Second, has("10.0.0.1:8080"))
	if st := bad.Status(); strings.Contains(st.LastError, "wrong") || !st.Auth {
		t.Errorf("status %+v", st)
	}
}

// TestSourceNoServiceNoRequest: without a Service using Eureka nothing is
// asked; the first one starts the polls.
func TestSourceNoServiceNoRequest(t *testing.T) {
	srv := eurekatest.Start(t)
	srv.Register(eurekatest.Instance("cart", "a", "10.0.0.1", 8080, ""))
	src, u := run(t, Config{Servers: []string{srv.URL}}, cartSvc())
	src.SetServices(nil)
	time.Sleep(200 * time.Millisecond)
	n := srv.Requests("GET /apps") + srv.Requests("GET /apps/delta")
	time.Sleep(300 * time.Millisecond)
	if m := srv.Requests("GET /apps") + srv.Requests("GET /apps/delta"); m != n || src.Watching() != 0 || !src.Synced() {
		t.Errorf("requests %d -> %d with no Service; watching %d", n, m, src.Watching())
	}
	src.SetServices(map[string]Service{"cart2": cartSvc()})
	waitFor(t, u, "cart2", 5*time.Second, func(s registry.Snapshot) bool { return len(s["cart2"]) == 1 })
}

func TestParseServers(t *testing.T) {
	got, err := ParseServers([]string{"http://e1:8761/eureka/, https://e2/eureka", "http://e3:8761/eureka"})
	if err != nil || strings.Join(got, " ") != "http://e1:8761/eureka https://e2/eureka http://e3:8761/eureka" {
		t.Errorf("%v %v", got, err)
	}
	for in, want := range map[string]string{
		"e1:8761":                            "scheme must be http or https",
		"ftp://e1/eureka":                    "scheme must be http or https",
		"http:///eureka":                     "no host",
		"http://user:pw@e1/eureka":           "no credentials in the URL",
		"http://e1/eureka?x=1":               "no query",
		"http://e1/eureka,http://e1/eureka/": "listed twice",
	} {
		_, err := ParseServers([]string{in})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the password shows in %v", in, err)
		}
	}
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv(CredentialsEnv, "")
	if u, p, err := Credentials(write("ok", "gh:pa:ss\n")); err != nil || u != "gh" || p != "pa:ss" {
		t.Errorf("file: %q %q %v", u, p, err)
	}
	if u, _, err := Credentials(""); err != nil || u != "" {
		t.Errorf("none: %q %v", u, err)
	}
	t.Setenv(CredentialsEnv, "env:pw")
	if u, p, err := Credentials(""); err != nil || u != "env" || p != "pw" {
		t.Errorf("env: %q %q %v", u, p, err)
	}
	for name, body := range map[string]string{"empty": "", "nocolon": "justuser", "nouser": ":pw", "twolines": "a:b\nc:d"} {
		if _, _, err := Credentials(write(name, body)); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := Credentials(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file is accepted")
	}
}
