package consulproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	storeconsul "github.com/gatehouse-dev/gatehouse/pkg/store/consul"
	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

const storeUp = "gatehouse_store_up"

// storePolicy is a Gateway and a Route to app.test, whose Service has b's
// static endpoint.
func storePolicy(b *backend) []store.Change {
	return []store.Change{
		{Path: "gateway.yaml", Content: []byte("kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n")},
		{Path: "routes/app.yaml", Content: []byte("kind: Route\nname: app\nspec:\n  gateways: [public]\n  hosts: [app.test]\n  backends: [{service: app}]\n")},
		{Path: "services/app.yaml", Content: []byte(fmt.Sprintf("kind: Service\nname: app\nspec:\n  protocol: GRPC\n  discovery:\n    static:\n      - {address: 127.0.0.1, port: %d}\n", b.Port))},
	}
}

// storeStatus is the store part of /api/v1/status.
type storeStatus struct {
	Store struct {
		Store     string `json:"store"`
		Up        bool   `json:"up"`
		Revision  string `json:"revision"`
		LastError string `json:"last_error"`
	} `json:"store"`
}

func (g *gatehouse) storeStatus() storeStatus {
	g.t.Helper()
	var st storeStatus
	if err := json.Unmarshal([]byte(g.statusJSON()), &st); err != nil {
		g.t.Fatalf("/api/v1/status: %v", err)
	}
	return st
}

// gatehouse serve --store consul://ADDR/PREFIX serves the policy committed
// to Consul KV: a proxyless gRPC client follows each commit, and of two
// commits on one revision exactly one lands; with the
// agent killed it keeps being served the last policy while the metric,
// /api/v1/status and `gatehouse status` say the store is unreadable
// (/readyz stays 200); once the agent is back a new commit is served.
func TestServeFromConsulKV(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	ctx := context.Background()
	kv, err := storeconsul.New(storeconsul.Config{Address: agent.Addr, Prefix: "gatehouse/e2e"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := kv.Commit(ctx, "", storePolicy(a), store.Meta{Author: "e2e", Message: "app on a"})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatehouse{t: t, Proc: gatehouseproc.StartEnv(t, gatehouseBin, []string{"CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR="},
		"--store", "consul://"+agent.Addr+"/gatehouse/e2e")}
	t.Logf("ready %v after start", g.WaitReady(30*time.Second).Round(time.Millisecond))
	client := xdsClient(t, g, "kv", "app.test")
	gatehouseproc.WaitAnswer(t, client, "a", 10*time.Second)
	if st := g.storeStatus(); !st.Store.Up || st.Store.Revision != first.ID || st.Store.Store != "consul://"+agent.Addr+"/gatehouse/e2e" {
		t.Fatalf("store status %+v, want up at %s", st.Store, first.ID)
	}

	// A commit from another client (the CLI, another replica) is served.
	start := time.Now()
	second, err := kv.Commit(ctx, first.ID, storePolicy(b)[2:], store.Meta{Author: "e2e", Message: "app on b"})
	if err != nil {
		t.Fatal(err)
	}
	took := gatehouseproc.WaitAnswer(t, client, "b", 10*time.Second)
	t.Logf("commit to Consul KV served to the proxyless client %v after the commit returned (%v after it started)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	// Two replicas (or CLI runs) commit on one revision: exactly one lands,
	// and the client is served the winner.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, be := range []*backend{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, err := storeconsul.New(storeconsul.Config{Address: agent.Addr, Prefix: "gatehouse/e2e"})
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = other.Commit(ctx, second.ID, storePolicy(be)[2:], store.Meta{Author: fmt.Sprint("writer ", i)})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), store.ErrConflict) {
		t.Fatalf("two commits on one revision: errors %v, want exactly one ErrConflict", errs)
	}
	winner := "a"
	if errs[0] != nil {
		winner = "c"
	}
	gatehouseproc.WaitAnswer(t, client, winner, 10*time.Second)
	second, err = kv.Commit(ctx, "", storePolicy(b)[2:], store.Meta{Author: "e2e", Message: "back to b"})
	if err != nil {
		t.Fatal(err)
	}
	gatehouseproc.WaitAnswer(t, client, "b", 10*time.Second)
	waitRevision := func(rev string, bound time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(bound); g.storeStatus().Store.Revision != rev; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("status revision %s, want %s within %v", g.storeStatus().Store.Revision, rev, bound)
			}
		}
	}
	waitRevision(second.ID, 5*time.Second)
	if v := g.Metric(storeUp); v != 1 {
		t.Fatalf("%s = %v, want 1", storeUp, v)
	}
	if v := g.Metric(`gatehouse_store_revision_info{revision="` + second.ID + `"}`); v != 1 {
		t.Fatalf("gatehouse_store_revision_info for %s = %v, want 1", second.ID, v)
	}

	agent.Kill()
	killed := time.Now()
	for g.Metric(storeUp) != 0 {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("%s not 0 within 15s of the kill", storeUp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s went to 0 %v after the agent was killed", storeUp, time.Since(killed).Round(time.Millisecond))
	if st := g.storeStatus(); st.Store.Up || !strings.Contains(st.Store.LastError, "policy store unavailable") || st.Store.Revision != second.ID {
		t.Fatalf("store status during the outage: %+v", st.Store)
	}
	out := g.cli("status", "--server", g.AdminAddr)
	if !strings.Contains(out, "Policy store consul://"+agent.Addr+"/gatehouse/e2e: UNREADABLE (serving the last good policy; revision "+second.ID) {
		t.Fatalf("gatehouse status during the outage:\n%s", out)
	}
	calls := 0
	for time.Since(killed) < 5*time.Second {
		if got := call(client); got != "b" {
			t.Fatalf("call %d, %v into the outage: %q", calls, time.Since(killed).Round(time.Millisecond), got)
		}
		calls++
		time.Sleep(20 * time.Millisecond)
	}
	if code := g.Readyz(); code != 200 {
		t.Fatalf("/readyz = %d during the store outage, want 200 (the last good policy is served)", code)
	}
	t.Logf("outage: %d calls over %v all answered by b", calls, time.Since(killed).Round(time.Millisecond))

	// A dev agent comes back empty: commit the policy again. The server may
	// read the empty store first (a policy with no Gateway, whose group is
	// removed) and the committed one next; a client connecting now is
	// served the new commit.
	agent.Restart()
	back := time.Now()
	third, err := kv.Commit(ctx, "", storePolicy(a), store.Meta{Author: "e2e", Message: "after the restart"})
	if err != nil {
		t.Fatal(err)
	}
	waitRevision(third.ID, 15*time.Second)
	if v := g.Metric(storeUp); v != 1 {
		t.Fatalf("%s = %v after the restart, want 1", storeUp, v)
	}
	gatehouseproc.WaitAnswer(t, xdsClient(t, g, "kv-after", "app.test"), "a", 15*time.Second)
	t.Logf("after the restart: the new commit served %v after the agent was back", time.Since(back).Round(time.Millisecond))
}
