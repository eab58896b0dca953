package translate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// walkAnys calls fn for every Any anywhere inside m, recursing into the
// Anys' contents. It is reflection-heavy, so it lives in tests only; Check
// visits the extension points it knows by hand.
func walkAnys(t *testing.T, m protoreflect.Message, fn func(*anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		fn(a)
		inner, err := a.UnmarshalNew()
		if err != nil {
			t.Errorf("Any %s: %v", a.GetTypeUrl(), err)
			return
		}
		walkAnys(t, inner.ProtoReflect(), fn)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkAnys(t, l.Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walkAnys(t, mv.Message(), fn)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walkAnys(t, v.Message(), fn)
		}
		return true
	})
}

// TestEveryAnyIsRegisteredAndAllowed walks every resource of every golden
// case: each Any must resolve in the global registry and be on some
// allow-list, so an Any in a place Check does not visit cannot slip by
// with a type nobody reviewed.
func TestEveryAnyIsRegisteredAndAllowed(t *testing.T) {
	anyAllowed := map[protoreflect.FullName]bool{}
	for _, types := range allowed {
		for n := range types {
			anyAllowed[n] = true
		}
	}
	cases, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, c := range cases {
		snap, _ := loadCase(t, filepath.Join("testdata", "in", c.Name()))
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			for _, rs := range [][]types.Resource{g.Listeners, g.Routes, g.Clusters, g.Secrets} {
				for _, r := range rs {
					walkAnys(t, proto.Message(r).ProtoReflect(), func(a *anypb.Any) {
						count++
						mt, err := protoregistry.GlobalTypes.FindMessageByURL(a.GetTypeUrl())
						if err != nil {
							t.Errorf("%s: %v", a.GetTypeUrl(), err)
							return
						}
						if !anyAllowed[mt.Descriptor().FullName()] {
							t.Errorf("%s is on no allow-list", mt.Descriptor().FullName())
						}
					})
				}
			}
		}
	}
	if count == 0 {
		t.Fatal("no Any found: the walk is broken")
	}
}

func TestHostUnder(t *testing.T) {
	cases := []struct {
		h, p string
		want bool
	}{
		{"api.example.com", "*", true},
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "*.example.com", true},
		{"a.b.example.com", "*.example.com", true},
		{"*.b.example.com", "*.example.com", true},
		{"example.com", "*.example.com", false},
		{"*", "api.example.com", false},
		{"*.example.com", "api.example.com", false},
		{"api.example.org", "*.example.com", false},
	}
	for _, c := range cases {
		if got := hostUnder(c.h, c.p); got != c.want {
			t.Errorf("hostUnder(%q, %q) = %v, want %v", c.h, c.p, got, c.want)
		}
	}
}
