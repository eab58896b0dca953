package translate

import (
	"bytes"
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
)

func TestExtAuthzWireMatchesProto(t *testing.T) {
	long := strings.Repeat("r", 300) // lengths past one varint byte
	for _, tc := range []struct {
		ext     []kv
		disable bool
	}{
		{nil, false},
		{[]kv{{"b", "2"}, {"a", "1"}}, false},
		{[]kv{{"gatehouse.route", long}, {"gatehouse.authorization", ""}, {"gatehouse.gateway", "edge"}}, true},
		{[]kv{{"", ""}}, true},
	} {
		m := map[string]string{}
		for _, e := range tc.ext {
			m[e.k] = e.v
		}
		var cs *extauthzv3.CheckSettings
		cs = &extauthzv3.CheckSettings{DisableRequestBodyBuffering: tc.disable}
		if len(m) > 0 {
			cs.ContextExtensions = m
		}
		want := mustAny(&extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{CheckSettings: cs}})
		got := extAuthzCheckAny(append([]kv(nil), tc.ext...), tc.disable)
		if got.TypeUrl != want.TypeUrl || !bytes.Equal(got.Value, want.Value) {
			t.Errorf("%v: got %x, want %x", tc.ext, got.Value, want.Value)
		}
		back := &extauthzv3.ExtAuthzPerRoute{}
		if err := got.UnmarshalTo(back); err != nil || len(back.GetCheckSettings().GetContextExtensions()) != len(m) {
			t.Errorf("%v: does not decode back: %v", tc.ext, err)
		}
	}
}
