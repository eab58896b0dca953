package e2e

import (
	"strings"
	"testing"
	"time"
)

// proxy mirrors the JSON of /api/v1/proxies that users and scripts read.
type proxy struct {
	NodeID  string               `json:"node_id"`
	Gateway string               `json:"gateway"`
	Client  string               `json:"client"`
	Types   map[string]typeState `json:"types"`
}

type typeState struct {
	Sent  string `json:"sent"`
	Acked string `json:"acked"`
	NACK  *struct {
		Error   string `json:"error"`
		Version string `json:"version"`
	} `json:"nack"`
	NACKs int `json:"nacks"`
}

func findProxy(t *testing.T, g *gatehouse, node string) (proxy, bool) {
	t.Helper()
	var ps []proxy
	g.GetJSON("/api/v1/proxies", &ps)
	for _, p := range ps {
		if p.NodeID == node {
			return p, true
		}
	}
	return proxy{}, false
}

// assertNoNACKs checks that no connected proxy ever NACKed anything, and
// that every proxyless client acknowledged what it was sent.
func assertNoNACKs(t *testing.T, g *gatehouse) {
	t.Helper()
	var ps []proxy
	g.GetJSON("/api/v1/proxies", &ps)
	if len(ps) == 0 {
		t.Fatal("no proxies connected")
	}
	for _, p := range ps {
		for typ, s := range p.Types {
			if s.NACKs > 0 || s.NACK != nil {
				t.Fatalf("%s NACKed %s: %+v", p.NodeID, typ, s.NACK)
			}
		}
	}
}

type rejected struct {
	Ref         string   `json:"ref"`
	File        string   `json:"file"`
	Errors      []string `json:"errors"`
	CarriedOver bool     `json:"carried_over"`
}

// waitStatus waits until /api/v1/status lists a rejected object whose ref or
// file is what and whose errors contain substr.
func waitStatus(t *testing.T, g *gatehouse, what, substr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var st struct {
			Rejected []rejected `json:"rejected"`
		}
		g.GetJSON("/api/v1/status", &st)
		for _, r := range st.Rejected {
			if (r.Ref == what || r.File == what) && strings.Contains(strings.Join(r.Errors, "\n"), substr) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("status does not list %s with %q within 5s", what, substr)
}
