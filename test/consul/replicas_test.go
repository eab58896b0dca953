package consulproc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	storeconsul "github.com/gatehouse-dev/gatehouse/pkg/store/consul"
	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// Three `gatehouse serve` replicas on one Consul KV policy store serve
// identical versions for identical input, and an object applied through
// one replica's admin API (`gatehouse apply`) is served by all three.
func TestReplicasOnConsulKV(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	a, b := startBackend(t, "a"), startBackend(t, "b")
	kv, err := storeconsul.New(storeconsul.Config{Address: agent.Addr, Prefix: "gatehouse/ha"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Commit(context.Background(), "", storePolicy(a), store.Meta{Author: "test", Message: "app on a"}); err != nil {
		t.Fatal(err)
	}
	var replicas []*gatehouse
	for i := 0; i < 3; i++ {
		replicas = append(replicas, &gatehouse{t: t, Proc: gatehouseproc.StartEnv(t, gatehouseBin, []string{"CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_ADDR="},
			"--store", "consul://"+agent.Addr+"/gatehouse/ha")})
	}
	var clients []testpb.TestServiceClient
	for i, g := range replicas {
		g.WaitReady(30 * time.Second)
		c := xdsClient(t, g, fmt.Sprintf("replica-client-%d", i), "app.test")
		gatehouseproc.WaitAnswer(t, c, "a", 20*time.Second)
		clients = append(clients, c)
	}
	same := func(when string) {
		t.Helper()
		var first api.ConfigDump
		for i, g := range replicas {
			var d api.ConfigDump
			g.GetJSON("/api/v1/config-dump?gateway=public&client=grpc", &d)
			if i == 0 {
				first = d
				continue
			}
			if !reflect.DeepEqual(d.Versions, first.Versions) || !reflect.DeepEqual(d.Resources, first.Resources) {
				t.Fatalf("%s: replica %d serves versions %v, replica 0 %v", when, i, d.Versions, first.Versions)
			}
		}
	}
	same("initial policy")

	dir := t.TempDir()
	svc := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(svc, []byte(fmt.Sprintf("kind: Service\nname: app\nspec:\n  protocol: GRPC\n  discovery:\n    static:\n      - {address: 127.0.0.1, port: %d}\n", b.Port)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := gatehouseproc.Run(gatehouseBin, "apply", "-f", svc, "--server", replicas[1].AdminAddr, "-m", "app on b"); err != nil {
		t.Fatalf("apply through replica 1: %v\n%s", err, out)
	}
	var worst time.Duration
	for _, c := range clients {
		gatehouseproc.WaitAnswer(t, c, "b", 5*time.Second)
		worst = max(worst, time.Since(start))
	}
	t.Logf("an object applied through one replica was served by all 3 within %v of the apply's start (target 1s; bound 5s)", worst)
	// The replicas converge on the same content, whatever order they saw
	// the watch in.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		var vs []map[string]string
		for _, g := range replicas {
			var d api.ConfigDump
			g.GetJSON("/api/v1/config-dump?gateway=public&client=grpc", &d)
			vs = append(vs, d.Versions)
		}
		for _, v := range vs[1:] {
			ok = ok && reflect.DeepEqual(v, vs[0])
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas serve different versions 5s after the apply: %v", vs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	same("after the apply")
}
