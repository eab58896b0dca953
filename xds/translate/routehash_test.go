package translate

import (
	"bytes"
	"path/filepath"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestRouteConfigEncodingMatchesMarshal: the composed encoding of every
// route table of every golden case is byte for byte proto.Marshal's
// (deterministic), and the hash Translate hands over is its ContentHash,
// whether the Routes' encodings come from the index or not.
func TestRouteConfigEncodingMatchesMarshal(t *testing.T) {
	dirs, err := filepath.Glob("testdata/in/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	tables := 0
	for _, dir := range dirs {
		snap, _ := loadCase(t, dir)
		groups, err := Translate(snap, Options{})
		if err != nil {
			continue // the golden test covers cases that fail
		}
		for k, g := range groups {
			for _, r := range g.Routes {
				rc := r.(*routev3.RouteConfiguration)
				want, err := deterministic.Marshal(rc)
				if err != nil {
					t.Fatal(err)
				}
				enc := routeEncodings{}
				for _, vh := range rc.GetVirtualHosts() {
					for _, rt := range vh.GetRoutes() {
						if enc[rt], err = deterministic.Marshal(rt); err != nil {
							t.Fatal(err)
						}
					}
				}
				for _, e := range []routeEncodings{enc, nil} {
					got, err := encodeRouteConfig([]byte("junk"), rc, e)
					if err != nil {
						t.Fatalf("%s %s %s: %v", filepath.Base(dir), k, rc.GetName(), err)
					}
					if !bytes.Equal(got[4:], want) {
						t.Errorf("%s %s %s: composed encoding differs from proto.Marshal", filepath.Base(dir), k, rc.GetName())
					}
				}
				if h, ok := g.Hashes[rc]; !ok || h != ContentHash(want) {
					t.Errorf("%s %s %s: Translate's hash %x (present %v), want %x", filepath.Base(dir), k, rc.GetName(), h, ok, ContentHash(want))
				}
				tables++
			}
		}
	}
	if tables < 10 {
		t.Fatalf("only %d route tables checked", tables)
	}
}

// TestRouteConfigEncodingUnknownFields: a table or virtual host carrying
// unknown fields (never made by Translate) is encoded by proto.Marshal,
// not composed without them.
func TestRouteConfigEncodingUnknownFields(t *testing.T) {
	rt := &routev3.Route{Name: "r"}
	vh := &routev3.VirtualHost{Name: "vh", Domains: []string{"*"}, Routes: []*routev3.Route{rt}}
	rc := &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{vh}}
	unknown := protowire.AppendTag(nil, 9999, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	vh.ProtoReflect().SetUnknown(unknown)
	want, _ := deterministic.Marshal(rc)
	got, err := encodeRouteConfig(nil, rc, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("virtual host with unknown fields: %v, equal %v", err, bytes.Equal(got, want))
	}
	vh.ProtoReflect().SetUnknown(nil)
	rc.ProtoReflect().SetUnknown(unknown)
	want, _ = deterministic.Marshal(rc)
	if got, err = encodeRouteConfig(nil, rc, nil); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("table with unknown fields: %v, equal %v", err, bytes.Equal(got, want))
	}
}
