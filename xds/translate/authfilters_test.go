package translate

import (
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestRequireExtOnlyWhatIsRequired: a Route's require block reaches the
// authz service as context extensions, one per part it has: a block with
// claims only sends no (empty) scopes entry, an empty block sends none.
func TestRequireExtOnlyWhatIsRequired(t *testing.T) {
	for _, tc := range []struct {
		rq   *policy.RouteRequire
		want string
	}{
		{nil, "[]"},
		{&policy.RouteRequire{}, "[]"},
		{&policy.RouteRequire{Scopes: []string{"orders:read", "orders:write"}}, "[{" + wire.CtxRequireScopes + " orders:read orders:write}]"},
		{&policy.RouteRequire{Claims: map[string]string{"tier": "gold"}}, "[{" + wire.CtxRequireClaims + ` {"tier":"gold"}}]`},
	} {
		if got := fmt.Sprint(requireExt(tc.rq)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.rq, got, tc.want)
		}
	}
}
