package authz

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// A detected-client header that is not an address leaves the source as the
// connection's: the policy sees 127.0.0.1 (req's peer), never a
// placeholder such as "invalid IP". TestDetectedClientIsSource's policy
// denies both, so it let through the mutant `err != nil || addr.Zone() !=
// ""` turned into `&&` in useDetectedClient (found by make mutate).
func TestDetectedClientGarbageKeepsTheConnection(t *testing.T) {
	for _, v := range []string{"203.0.113.9, 10.0.0.1", "not-an-ip", "", "fe80::1%eth0"} {
		e := ext("r", "", "")
		e[wire.CtxClientIPHeader] = "true"
		h := map[string]string{}
		if v != "" {
			h[wire.ClientIPHeader] = v
		}
		r := req{headers: h, ext: e}.build(t)
		useDetectedClient(r)
		if got := r.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress(); got != "127.0.0.1" {
			t.Errorf("header %q: source address %q, want the connection's 127.0.0.1", v, got)
		}
	}
}
