package translate

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// filler sets every settable field of a value to a non-zero value derived
// from a counter, visiting fields in a fixed order, so that two fills give
// equal values and a fill with bump = k differs from them in exactly one
// place: the k-th leaf gets another value, or the k-th pointer, slice or
// map is left nil. Interfaces are left nil (the filler cannot know their
// types); recursion stops at a depth that covers every policy type.
type filler struct {
	n    int // mutation points visited so far
	bump int // the mutation point to change; -1 for none
	path []string
	hit  string // the path of the bumped point, for messages
}

func (f *filler) point() bool {
	f.n++
	if f.n-1 == f.bump {
		f.hit = fmt.Sprint(f.path)
		return true
	}
	return false
}

func (f *filler) fill(v reflect.Value, depth int) {
	if depth > 12 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!f.point())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d := int64(f.n%50 + 1)
		if f.point() {
			d += 7
		}
		v.SetInt(d)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d := uint64(f.n%50 + 1)
		if f.point() {
			d += 7
		}
		v.SetUint(d)
	case reflect.Float32, reflect.Float64:
		d := float64(f.n%50) + 0.5
		if f.point() {
			d += 7
		}
		v.SetFloat(d)
	case reflect.String:
		s := fmt.Sprintf("s%d", f.n)
		if f.point() {
			s += "x"
		}
		v.SetString(s)
	case reflect.Pointer:
		if f.point() {
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if f.point() {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.path = append(f.path, fmt.Sprint(i))
			f.fill(s.Index(i), depth+1)
			f.path = f.path[:len(f.path)-1]
		}
		v.Set(s)
	case reflect.Map:
		if f.point() {
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := range 3 { // several entries: the encoding must not follow map order
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.path = append(f.path, fmt.Sprintf("key%d", i))
			f.fill(k, depth+1)
			f.path[len(f.path)-1] = fmt.Sprintf("value%d", i)
			f.fill(e, depth+1)
			f.path = f.path[:len(f.path)-1]
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f.path = append(f.path, v.Type().Field(i).Name)
			f.fill(v.Field(i), depth+1)
			f.path = f.path[:len(f.path)-1]
		}
	}
}

func filled[T any](bump int) (*T, *filler) {
	f := &filler{bump: bump}
	v := new(T)
	f.fill(reflect.ValueOf(v).Elem(), 0)
	return v, f
}

// digestSeesEveryField: two independent fills of T have the same digest,
// and changing any one leaf (or leaving any one pointer, slice or map nil)
// changes it. New fields of the policy types are covered without touching
// this test, which is what makes the digest safe as the memo's key.
func digestSeesEveryField[T any](t *testing.T) {
	a, f := filled[T](-1)
	b, _ := filled[T](-1)
	da, db := digestOf(a), digestOf(b)
	if !da.ok || !da.same(db) {
		t.Fatalf("%T: equal fills: digests %x / %x (ok %v)", a, da.sum, db.sum, da.ok)
	}
	if f.n < 50 {
		t.Fatalf("%T: only %d mutation points filled; the filler missed the type", a, f.n)
	}
	for k := 0; k < f.n; k++ {
		c, fc := filled[T](k)
		if dc := digestOf(c); da.same(dc) {
			t.Errorf("%T: changing %s left the digest unchanged", a, fc.hit)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%T: mutation %s did not change the value (filler bug)", a, fc.hit)
		}
	}
	t.Logf("%T: %d mutation points, each changes the digest", a, f.n)
}

func TestDigestSeesEveryField(t *testing.T) {
	t.Run("Route", digestSeesEveryField[policy.Route])
	t.Run("Service", digestSeesEveryField[policy.Service])
}

// TestDigestBoundaries: values that concatenate to the same bytes, or
// differ only in nil against empty, have different digests (the encoding
// is length-prefixed and marks nil), as reflect.DeepEqual tells them apart.
func TestDigestBoundaries(t *testing.T) {
	type inner struct{ X string }
	type obj struct {
		A, B string
		L    []string
		M    map[string]string
		P    *inner
		I    any
		b    []byte // unexported: still part of the content
	}
	cases := []struct {
		name string
		x, y obj
	}{
		{"string boundary", obj{A: "ab", B: "c"}, obj{A: "a", B: "bc"}},
		{"slice element boundary", obj{L: []string{"a", "b"}}, obj{L: []string{"ab"}}},
		{"slice vs next field", obj{L: []string{"a"}, A: ""}, obj{L: nil, A: "a"}},
		{"nil vs empty slice", obj{L: nil}, obj{L: []string{}}},
		{"nil vs empty map", obj{M: nil}, obj{M: map[string]string{}}},
		{"map key vs value", obj{M: map[string]string{"a": "b"}}, obj{M: map[string]string{"b": "a"}}},
		{"map entry boundary", obj{M: map[string]string{"ab": ""}}, obj{M: map[string]string{"a": "b"}}},
		{"nil vs zero pointer", obj{P: nil}, obj{P: &inner{}}},
		{"interface dynamic type", obj{I: int64(1)}, obj{I: int32(1)}},
		{"nil interface vs zero", obj{I: nil}, obj{I: ""}},
		{"unexported bytes", obj{b: []byte("a")}, obj{b: []byte("b")}},
	}
	for _, c := range cases {
		x, y := c.x, c.y
		if reflect.DeepEqual(&x, &y) {
			t.Fatalf("%s: the case's values are DeepEqual", c.name)
		}
		if digestOf(&x).same(digestOf(&y)) {
			t.Errorf("%s: same digest for different values", c.name)
		}
		x2 := c.x
		if !digestOf(&x).same(digestOf(&x2)) {
			t.Errorf("%s: different digests for equal values", c.name)
		}
	}
}

// TestDigestUndigestible: a value the encoder cannot encode exactly (a
// func, a cycle) has no digest, and the memo then reuses nothing unless
// it is handed the very same object.
func TestDigestUndigestible(t *testing.T) {
	type withFunc struct{ F func() }
	type node struct{ Next *node }
	cyc := &node{}
	cyc.Next = cyc
	// Cycles through an interface and a slice, and through an interface
	// and a map's value: every kind on the way counts toward the depth
	// bound, or these would recurse until the stack overflows.
	viaSlice := []any{nil}
	viaSlice[0] = viaSlice
	viaMap := map[string]any{}
	viaMap["self"] = viaMap
	for _, v := range []any{&withFunc{F: func() {}}, cyc, viaSlice, viaMap} {
		if d := digestOf(v); d.ok || d.same(d) {
			t.Errorf("%T: digest ok %v, want none", v, d.ok)
		}
	}
	a, b := &withFunc{}, &withFunc{}
	a.F, b.F = nil, func() {}
	if same, _ := sameObject(a, objDigest{}, a); !same {
		t.Error("the same object is not the same")
	}
	if same, _ := sameObject(b, objDigest{}, &withFunc{F: b.F}); same {
		t.Error("an undigestible object matched another")
	}
}

// TestMemoSeesFieldsOutsideTheSpec: edits the digest must not miss, made
// through the memo: a field the loader fills and YAML never names
// (Meta.File), a label, and a Service's static endpoint, each in a fresh
// object (as after a reload) with everything else equal.
func TestMemoSeesFieldsOutsideTheSpec(t *testing.T) {
	p := memoPolicy(5)
	memo := NewMemo()
	if _, err := Translate(p, Options{Memo: memo}); err != nil {
		t.Fatal(err)
	}
	edits := []struct {
		name string
		edit func(*policy.Snapshot)
		want int // misses
	}{
		{"nothing", func(*policy.Snapshot) {}, 0},
		{"route label", func(p *policy.Snapshot) { p.Routes["route-2"].Labels = map[string]string{"team": "x"} }, 1},
		{"route file", func(p *policy.Snapshot) { p.Routes["route-2"].File = "other.yaml" }, 1},
		{"route header match", func(p *policy.Snapshot) {
			p.Routes["route-2"].Spec.Match.Headers = append(p.Routes["route-2"].Spec.Match.Headers, policy.HeaderMatch{Name: "x-a", Exact: "b"})
		}, 1},
	}
	for _, e := range edits {
		next := clone(p)
		e.edit(next)
		got, err := Translate(next, Options{Memo: memo})
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if _, misses := memo.Stats(); misses != e.want {
			t.Errorf("%s: built %d anew, want %d", e.name, misses, e.want)
		}
		fresh, err := Translate(next, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sameGroups(t, e.name, fresh, got)
		p = next
	}
}
