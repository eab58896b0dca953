package translate

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
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

// checkEdit is one way to break a golden case's emitted config: edit the
// named route (of every route table) or the first listener's connection
// manager; Check must then fail with want.
type checkEdit struct {
	name  string
	route string
	edit  func(*routev3.Route)
	hcm   func(*hcmv3.HttpConnectionManager)
	want  string
}

// runCheckEdits applies each edit to a fresh copy of golden's checked
// edge group and asserts that Check refuses it.
func runCheckEdits(t *testing.T, golden string, cases []checkEdit) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := editedEdge(t, golden, tc)
			if err := Check(g, clasOf(g)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// runCheckAccepts applies each edit (its want unused) to a fresh copy of
// golden's checked edge group and expects Check to pass: configurations
// Envoy loads that a rule written too broadly would refuse.
func runCheckAccepts(t *testing.T, golden string, cases []checkEdit) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := editedEdge(t, golden, tc)
			if err := Check(g, clasOf(g)); err != nil {
				t.Fatalf("Check refused a configuration Envoy loads: %v", err)
			}
		})
	}
}

// editedEdge is a fresh copy of golden's checked edge group with tc's
// edits applied.
func editedEdge(t *testing.T, golden string, tc checkEdit) *Group {
	t.Helper()
	g := checkedEdge(t, golden)
	if tc.edit != nil {
		editRoute(g, tc.route, tc.edit)
	}
	if tc.hcm != nil {
		editHCM(t, g.Listeners[0].(*listenerv3.Listener), tc.hcm)
	}
	return g
}
