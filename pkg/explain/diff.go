package explain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Change is one resource that differs between two translations.
type Change struct {
	Group string `json:"group"` // "<gateway>/<client kind>"
	Type  string `json:"type"`  // listener, route, cluster or secret
	Name  string `json:"name"`
	Op    string `json:"op"` // added, removed or changed
	// Fields lists, for a changed resource, the differing fields by JSON
	// path (protojson field names); More counts those left out.
	Fields []FieldChange `json:"fields,omitempty"`
	More   int           `json:"more,omitempty"`
}

// FieldChange is one differing field. An empty side means the field is
// absent there. Secret values are never shown.
type FieldChange struct {
	Path   string `json:"path"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Diff limits: a plan stays short however large a change is.
const (
	maxFieldsPerChange = 12
	maxValueLen        = 72
)

// resourceTypes are a group's resource lists in make-before-break order.
var resourceTypes = []struct {
	name string
	of   func(*translate.Group) []types.Resource
}{
	{"cluster", func(g *translate.Group) []types.Resource { return g.Clusters }},
	{"secret", func(g *translate.Group) []types.Resource { return g.Secrets }},
	{"listener", func(g *translate.Group) []types.Resource { return g.Listeners }},
	{"route", func(g *translate.Group) []types.Resource { return g.Routes }},
}

// Diff lists the resources added, removed and changed between two sets of
// translated groups, per group and type, by name; a resource changed when
// its content hash (translate.ContentHash of its deterministic encoding)
// differs. The result is sorted by group, type and name, so the same
// inputs always give the same plan. A group present on one side only has
// all its resources added or removed.
func Diff(before, after map[translate.GroupKey]*translate.Group) ([]Change, error) {
	keys := map[string]translate.GroupKey{}
	for k := range before {
		keys[k.String()] = k
	}
	for k := range after {
		keys[k.String()] = k
	}
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Change
	for _, n := range names {
		k := keys[n]
		for _, rt := range resourceTypes {
			var b, a []types.Resource
			if g := before[k]; g != nil {
				b = rt.of(g)
			}
			if g := after[k]; g != nil {
				a = rt.of(g)
			}
			cs, err := diffResources(n, rt.name, b, a)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
	}
	return out, nil
}

type named interface{ GetName() string }

func byName(rs []types.Resource) map[string]types.Resource {
	m := make(map[string]types.Resource, len(rs))
	for _, r := range rs {
		m[r.(named).GetName()] = r
	}
	return m
}

func diffResources(group, typ string, before, after []types.Resource) ([]Change, error) {
	b, a := byName(before), byName(after)
	var names []string
	for n := range b {
		names = append(names, n)
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []Change
	for _, n := range names {
		c := Change{Group: group, Type: typ, Name: n}
		switch rb, ra := b[n], a[n]; {
		case rb == nil:
			c.Op = "added"
		case ra == nil:
			c.Op = "removed"
		default:
			hb, err := hash(rb)
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", group, typ, n, err)
			}
			ha, err := hash(ra)
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", group, typ, n, err)
			}
			if hb == ha {
				continue
			}
			c.Op = "changed"
			fields, err := fieldChanges(rb, ra, typ == "secret")
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", group, typ, n, err)
			}
			if len(fields) > maxFieldsPerChange {
				c.More = len(fields) - maxFieldsPerChange
				fields = fields[:maxFieldsPerChange]
			}
			c.Fields = fields
		}
		out = append(out, c)
	}
	return out, nil
}

func hash(r types.Resource) (uint64, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return 0, err
	}
	return translate.ContentHash(b), nil
}

// fieldChanges compares the protojson forms of two resources leaf by leaf.
// A list whose elements all carry a distinct "name" is compared by name
// (virtual_hosts[api.example.com].routes[users].timeout), other lists by
// index.
func fieldChanges(before, after proto.Message, redact bool) ([]FieldChange, error) {
	jb, err := asJSON(before)
	if err != nil {
		return nil, err
	}
	ja, err := asJSON(after)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	walkDiff("", jb, ja, func(path string, b, a any) {
		fc := FieldChange{Path: path, Before: show(b), After: show(a)}
		if redact {
			fc.Before, fc.After = redacted(b), redacted(a)
		}
		out = append(out, fc)
	})
	return out, nil
}

func asJSON(m proto.Message) (any, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func walkDiff(path string, b, a any, emit func(string, any, any)) {
	if reflect.DeepEqual(b, a) {
		return
	}
	mb, okb := b.(map[string]any)
	ma, oka := a.(map[string]any)
	if okb && oka {
		keys := map[string]bool{}
		for k := range mb {
			keys[k] = true
		}
		for k := range ma {
			keys[k] = true
		}
		for _, k := range sortedSet(keys) {
			walkDiff(join(path, k), mb[k], ma[k], emit)
		}
		return
	}
	lb, okb := b.([]any)
	la, oka := a.([]any)
	if okb && oka {
		if nb, na := namesOf(lb), namesOf(la); nb != nil && na != nil {
			keys := map[string]bool{}
			for k := range nb {
				keys[k] = true
			}
			for k := range na {
				keys[k] = true
			}
			for _, k := range sortedSet(keys) {
				walkDiff(path+"["+k+"]", nb[k], na[k], emit)
			}
			return
		}
		for i := 0; i < len(lb) || i < len(la); i++ {
			var x, y any
			if i < len(lb) {
				x = lb[i]
			}
			if i < len(la) {
				y = la[i]
			}
			walkDiff(fmt.Sprintf("%s[%d]", path, i), x, y, emit)
		}
		return
	}
	emit(path, b, a)
}

// namesOf indexes a list by its elements' "name", or returns nil if some
// element has none or names repeat.
func namesOf(l []any) map[string]any {
	out := make(map[string]any, len(l))
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := m["name"].(string)
		if !ok || n == "" {
			return nil
		}
		if _, dup := out[n]; dup {
			return nil
		}
		out[n] = e
	}
	return out
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// show renders a JSON value compactly, cut to maxValueLen.
func show(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	s := string(b)
	if len(s) > maxValueLen {
		s = s[:maxValueLen-3] + "..."
	}
	return s
}

func redacted(v any) string {
	if v == nil {
		return ""
	}
	return "(secret value)"
}

// Summary counts changes by operation, e.g. "2 added, 1 changed".
func Summary(cs []Change) string {
	n := map[string]int{}
	for _, c := range cs {
		n[c.Op]++
	}
	var parts []string
	for _, op := range []string{"added", "changed", "removed"} {
		if n[op] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[op], op))
		}
	}
	if len(parts) == 0 {
		return "no Envoy resource changes"
	}
	return strings.Join(parts, ", ")
}
