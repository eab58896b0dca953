package translate

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// checkedEdge is the Envoy group of gateway edge in golden case name,
// checked clean, as a copy a test may edit.
func checkedEdge(t *testing.T, name string) *Group {
	t.Helper()
	edge := translateCase(t, name, Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(cloneGroup(edge), clasOf(edge)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cloneGroup(edge)
}

// editExtProc rewrites the ext_proc filter named filter on the first
// listener (the WAF, validation or transformation filter).
func editExtProc(t *testing.T, g *Group, filter string, edit func(*extprocv3.ExternalProcessor)) {
	t.Helper()
	editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
		for _, f := range h.GetHttpFilters() {
			if f.GetName() != filter {
				continue
			}
			m := &extprocv3.ExternalProcessor{}
			if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(m)}
		}
	})
}
