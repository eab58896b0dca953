package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/admin"
	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/store/memory"
)

const svc = "kind: Service\nname: users\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9001}]\n"

// newServer is a real admin API over an in-memory store; it records the
// Authorization and author headers of the last request.
func newServer(t *testing.T) (*httptest.Server, *http.Header) {
	h := admin.Handler(admin.Config{Gatherer: prometheus.NewRegistry(), Ready: func() bool { return true }, Store: memory.New(nil)})
	last := &http.Header{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*last = r.Header.Clone()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

func TestClientAgainstServer(t *testing.T) {
	srv, hdr := newServer(t)
	ctx := context.Background()
	t.Setenv(EnvAddr, srv.URL)
	t.Setenv(EnvToken, "from-env")
	c, err := New(Options{Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(ctx, []byte(svc), WriteOptions{DryRun: true})
	if err != nil || !res.DryRun || res.Objects[0].Action != "created" {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if got := hdr.Get("Authorization"); got != "Bearer from-env" || hdr.Get("X-Gatehouse-Author") != "ann" {
		t.Errorf("headers sent: Authorization %q, author %q", got, hdr.Get("X-Gatehouse-Author"))
	}
	base := res.Revision
	if _, err := c.Apply(ctx, []byte(svc), WriteOptions{BaseRevision: base, Message: "add users"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(ctx, []byte(strings.Replace(svc, "9001", "9002", 1)), WriteOptions{BaseRevision: base})
	if !Conflict(err) {
		t.Errorf("stale apply: %v, want a conflict", err)
	}
	list, err := c.List(ctx, ListOptions{Kind: "services"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := c.Get(ctx, "Service", "nope"); err == nil || !strings.Contains(err.Error(), "Service/nope") {
		t.Errorf("get missing: %v", err)
	}
	var ae *APIError
	_, err = c.Apply(ctx, []byte("kind: Service\nname: bad\nspec: {nope: 1}\n"), WriteOptions{})
	if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(err.Error(), "spec.nope") {
		t.Errorf("invalid apply: %v", err)
	}
	if _, err := c.Delete(ctx, "Service", "users", WriteOptions{Message: "drop users"}); err != nil {
		t.Fatal(err)
	}
	h, err := c.History(ctx, 10)
	if err != nil || len(h.Revisions) != 2 || h.Revisions[0].Message != "drop users" || h.Revisions[1].Message != "add users" {
		t.Fatalf("history: %+v %v", h, err)
	}
	res, err = c.Rollback(ctx, apiRollback(h.Revisions[1].ID))
	if err != nil || res.Objects[0].Action != "created" {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	if list, err := c.Get(ctx, "Service", "users"); err != nil || len(list.Items) != 1 {
		t.Errorf("after the rollback: %+v %v", list, err)
	}
	// Flags win over the environment.
	c2, _ := New(Options{Addr: srv.URL, Token: "from-flag"})
	c2.Proxies(ctx)
	if got := hdr.Get("Authorization"); got != "Bearer from-flag" {
		t.Errorf("token from flag: %q", got)
	}
}

func TestUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, err := New(Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	var ue *UnreachableError
	if _, err := c.List(context.Background(), ListOptions{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "GATEHOUSE_ADDR") {
		t.Errorf("closed port: %v", err)
	}
	if _, err := New(Options{Addr: "ftp://x"}); err == nil {
		t.Error("an ftp:// server address was accepted")
	}
}

func apiRollback(rev string) api.RollbackRequest { return api.RollbackRequest{Revision: rev} }
