package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry/eureka"
)

// TestPrintEureka: the status section says which server answers, whether
// the source is synced, how fetches went and, per Service, why it has no
// endpoints.
func TestPrintEureka(t *testing.T) {
	now := time.Now()
	var b bytes.Buffer
	printEureka(&b, nil, now)
	if b.Len() != 0 {
		t.Errorf("nil status printed %q", b.String())
	}
	printEureka(&b, &eureka.Status{
		Servers: []string{"http://e1/eureka", "http://e2/eureka"}, Server: "http://e2/eureka",
		LastContact: now.Add(-5 * time.Second), LastError: "GET http://e1/eureka/apps/delta: connection refused", LastErrorAt: now,
		HashCode: "DOWN_1_UP_1_", Instances: 2, Fetches: eureka.Stats{Full: 2, Delta: 7, HashMismatches: 1, Failovers: 1},
		Services: []eureka.ServiceStatus{{Name: "cart", App: "CART", Port: "port", Instances: 2, NotUp: map[string]int{"DOWN": 1}, State: "no instance UP (DOWN 1)"}},
	}, now)
	out := b.String()
	for _, want := range []string{
		"Eureka http://e2/eureka (of 2): UNREACHABLE (serving the last known endpoints); last answer 5s ago; NOT SYNCED",
		"2 full, 7 delta, 1 hash mismatches, 1 failovers",
		"last error (0s ago): GET http://e1/eureka/apps/delta: connection refused",
		"DOWN:1", "no instance UP (DOWN 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
