package consulproc

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	storeconsul "github.com/gatehouse-dev/gatehouse/pkg/store/consul"
	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/clisession"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// A whole CLI session against `gatehouse serve --store consul://` (Consul
// KV, a real agent): see clisession.Run.
func TestCLISessionConsulStore(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	v1, v2 := startBackend(t, "v1"), startBackend(t, "v2")
	kv, err := storeconsul.New(storeconsul.Config{Address: agent.Addr, Prefix: "gatehouse/cli"})
	if err != nil {
		t.Fatal(err)
	}
	files := clisession.Policy(v1, v2)
	var seed []store.Change
	for _, p := range slices.Sorted(maps.Keys(files)) {
		seed = append(seed, store.Change{Path: p, Content: []byte(files[p])})
	}
	if _, err := kv.Commit(context.Background(), "", seed, store.Meta{Author: "e2e", Message: "seed"}); err != nil {
		t.Fatal(err)
	}
	g := gatehouseproc.StartEnv(t, gatehouseBin, []string{"CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR="},
		"--store", "consul://"+agent.Addr+"/gatehouse/cli")
	t.Logf("ready %v after start", g.WaitReady(30*time.Second).Round(time.Millisecond))
	clisession.Run(t, gatehouseBin, g, v1, v2)
}
