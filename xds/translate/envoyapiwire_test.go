package translate

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// compareWalks runs the reflective walk (shipped) and the walk over the
// deterministic encoding (shippedEncoded) on m, each on a fresh checker,
// and fails t unless they report the same errors and find the same fields
// set (as multisets: walk visits a map in the map's order, walkEncoded in
// key order). It returns the number of errors.
func compareWalks(t *testing.T, where string, m proto.Message) int {
	t.Helper()
	enc, err := deterministic.Marshal(m)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	ref := &checker{envoy: true, tracing: true}
	ref.shipped(where, m)
	wire := &checker{envoy: true, tracing: true}
	wire.shippedEncoded(where, m, enc)
	if ref.failures != wire.failures {
		t.Errorf("%s: walk failed %d times, walkEncoded %d times\nwalk: %v\nwalkEncoded: %v", where, ref.failures, wire.failures, ref.errs, wire.errs)
		return ref.failures
	}
	if ref.failures <= maxCheckErrors { // past it, which ones are kept depends on map order
		if a, b := errStrings(ref.errs), errStrings(wire.errs); !slices.Equal(a, b) {
			t.Errorf("%s: errors differ\nwalk:        %q\nwalkEncoded: %q", where, a, b)
		}
	}
	slices.Sort(ref.trace)
	slices.Sort(wire.trace)
	if !slices.Equal(ref.trace, wire.trace) {
		t.Errorf("%s: fields found set differ\nwalk:        %q\nwalkEncoded: %q", where, ref.trace, wire.trace)
	}
	return ref.failures
}

func errStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	slices.Sort(out)
	return out
}

// TestWalkEncodedMatchesWalk: the walk over an encoding reports what the
// reflective walk reports, and finds the same fields set, on every
// resource of every Envoy group of every golden case (each Route of each
// table on its own too, as the prechecks walk them), and on random
// Routes, Clusters, Listeners and route tables that set unshipped fields
// and enum values, regexes (valid and not), CIDRs (IP or not) and typed
// configs (registered or not, decodable or not), at random.
func TestWalkEncodedMatchesWalk(t *testing.T) {
	dirs, err := filepath.Glob("testdata/in/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	resources, routes, traced := 0, 0, 0
	for _, dir := range dirs {
		snap, _ := loadCase(t, dir)
		groups, err := Translate(snap, Options{})
		if err != nil {
			continue // the golden test covers cases that fail
		}
		for k, g := range groups {
			if k.Client != ClientEnvoy {
				continue
			}
			for _, list := range [][]types.Resource{g.Listeners, g.Routes, g.Clusters, g.Secrets} {
				for _, r := range list {
					where := fmt.Sprintf("%s %s %T", filepath.Base(dir), k, r)
					compareWalks(t, where, r)
					resources++
				}
			}
			for _, r := range g.Routes {
				for _, vh := range r.(*routev3.RouteConfiguration).GetVirtualHosts() {
					for _, rt := range vh.GetRoutes() {
						compareWalks(t, filepath.Base(dir)+" route "+rt.GetName(), rt)
						c := &checker{envoy: true, tracing: true}
						c.shipped("", rt)
						traced += len(c.trace)
						routes++
					}
				}
			}
		}
	}
	if resources < 100 || routes < 100 || traced < 100 {
		t.Fatalf("only %d resources, %d routes (%d fields found set) compared", resources, routes, traced)
	}

	rng := rand.New(rand.NewPCG(10, 5))
	roots := []proto.Message{&routev3.Route{}, &clusterv3.Cluster{}, &listenerv3.Listener{}, &routev3.RouteConfiguration{}}
	failing, n := 0, 2000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		m := roots[i%len(roots)].ProtoReflect().New()
		fillRandom(rng, m, 0)
		if compareWalks(t, fmt.Sprintf("random %s #%d", m.Descriptor().Name(), i), m.Interface()) > 0 {
			failing++
		}
	}
	if failing < n/10 || failing > n*9/10 {
		t.Fatalf("%d of %d random messages fail the walk: the generator should make both kinds common", failing, n)
	}
}

// Values fillRandom draws from where the walk reads a value.
var (
	randomRegexes = []string{"", "^/a+$", "(unclosed", "[z-a]", "(a|b)*c{2,5}"}
	randomCIDRs   = []string{"", "10.0.0.0", "::1", "not-an-ip", "10.0.0.0/8"}
)

// randomAnyTypes are the typed configs fillRandom puts in an Any: every
// type of known extension status, and two that are not registered.
func randomAnyTypes() []string {
	out := []string{"type.googleapis.com/not.a.registered.Type", "type.googleapis.com/google.protobuf.Duration"}
	for name := range extensionStatus {
		out = append(out, "type.googleapis.com/"+string(name))
	}
	slices.Sort(out)
	return out
}

// fillRandom sets fields of m at random, more often the fields the walk
// looks at, down to a bounded depth.
func fillRandom(rng *rand.Rand, m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case anyName:
		fillAny(rng, m, depth)
		return
	case regexMatcherName:
		m.Set(md.Fields().ByName("regex"), protoreflect.ValueOfString(randomRegexes[rng.IntN(len(randomRegexes))]))
	case cidrRangeName:
		m.Set(md.Fields().ByName("address_prefix"), protoreflect.ValueOfString(randomCIDRs[rng.IntN(len(randomCIDRs))]))
	}
	s := statusOf(md)
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		p := 0.08
		if s != nil && s.lookAt[fd.Number()] > 0 {
			p = 0.3
		}
		if depth > 4 {
			p /= 4
		}
		if rng.Float64() >= p {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range 1 + rng.IntN(2) {
				if fd.Message() != nil {
					e := l.NewElement()
					fillRandom(rng, e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(randomScalar(rng, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range 1 + rng.IntN(3) {
				k := randomMapKey(rng, fd.MapKey())
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					fillRandom(rng, v.Message(), depth+1)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomScalar(rng, fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			if depth > 6 {
				continue
			}
			fillRandom(rng, m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, randomScalar(rng, fd))
		}
	}
}

// fillAny puts in an Any a random typed config: a random value of a
// random type, a type that is not registered, or bytes that do not decode.
func fillAny(rng *rand.Rand, m protoreflect.Message, depth int) {
	urls := randomAnyTypes()
	url := urls[rng.IntN(len(urls))]
	a := m.Interface().(*anypb.Any)
	a.TypeUrl = url
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	switch {
	case err != nil || rng.IntN(10) == 0:
		a.Value = []byte{0x0a, 0x05, 'x'} // truncated: does not decode
		if rng.IntN(2) == 0 {
			a.Value = nil
		}
	default:
		inner := mt.New()
		if depth < 5 {
			fillRandom(rng, inner, depth+1)
		}
		b, err := deterministic.Marshal(inner.Interface())
		if err != nil {
			panic(err)
		}
		a.Value = b
	}
}

func randomScalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.IntN(2) == 0)
	case protoreflect.EnumKind:
		vs := fd.Enum().Values()
		if rng.IntN(20) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(-1 - rng.IntN(3))) // unknown, negative
		}
		return protoreflect.ValueOfEnum(vs.Get(rng.IntN(vs.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(rng.IntN(5)) - 1)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(rng.IntN(5)) - 1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(rng.IntN(4)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(rng.IntN(4)))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(rng.IntN(3)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(rng.IntN(3)))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(strings.Repeat("s", rng.IntN(3)))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(strings.Repeat("b", rng.IntN(3))))
	}
	panic("unhandled kind " + fd.Kind().String())
}

func randomMapKey(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.MapKey {
	if fd.Kind() == protoreflect.StringKind {
		return protoreflect.ValueOfString(fmt.Sprintf("k%d", rng.IntN(4))).MapKey()
	}
	return randomScalar(rng, fd).MapKey()
}
