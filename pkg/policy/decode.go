package policy

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile or broken document (alias bombs, absurd
// nesting) from exhausting the control plane. Real policies are far below.
const (
	maxDecodeDepth = 64
	maxDecodeNodes = 50000
)

var durationType = reflect.TypeOf(Duration(0))

// decoder turns a yaml.Node tree into a Go value strictly: unknown fields,
// duplicate keys and wrong scalar types are errors, never silently dropped.
// It records the line of every value it decodes by field path, so that
// validation later can point at the exact line of a field.
type decoder struct {
	obj   *objErrs
	nodes int
}

// within counts n against the object's value limit and checks its depth.
// Past the limit it reports once: every value after it would otherwise add
// the same error (an alias bomb, thousands of them).
func (d *decoder) within(n *yaml.Node, path string, depth int) bool {
	d.nodes++
	if d.nodes > maxDecodeNodes {
		if d.nodes == maxDecodeNodes+1 {
			d.obj.decodeErr(n.Line, path, "document too large or aliases expand too much (more than %d values)", maxDecodeNodes)
		}
		return false
	}
	if depth > maxDecodeDepth {
		d.obj.decodeErr(n.Line, path, "nested too deeply (more than %d levels)", maxDecodeDepth)
		return false
	}
	return true
}

// decode fills v (addressable) from n; path is the field path of v.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	if !d.within(n, path, depth) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.obj.decodeErr(n.Line, path, "unresolved alias")
			return
		}
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path, depth+1)
		return
	}
	d.obj.setLine(path, n.Line)
	if isNull(n) {
		// An explicit null is the same as omitting the field, except for
		// presence-only fields (*struct{}), where "tcp:" means "tcp: {}".
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct && v.Type().Elem().NumField() == 0 {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return
	}
	if v.Type() == durationType {
		d.decodeDuration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path, depth+1)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path, depth)
	case reflect.Map:
		d.decodeMap(n, v, path, depth)
	case reflect.Slice:
		d.decodeSlice(n, v, path, depth)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.obj.decodeErr(n.Line, path, "expected a string, got %s", describe(n))
			return
		}
		if n.Style&yaml.LiteralStyle != 0 {
			d.obj.literal[path] = true
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(n, v, path)
	case reflect.Float64:
		d.decodeFloat(n, v, path)
	case reflect.Interface:
		// Free-form values (a Transformation's literal): JSON's shapes only.
		if v.NumMethod() != 0 {
			d.obj.decodeErr(n.Line, path, "internal: cannot decode into %s", v.Type())
			return
		}
		if x, ok := d.decodeAny(n, path, depth); ok {
			v.Set(reflect.ValueOf(&x).Elem())
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.obj.decodeErr(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			d.obj.decodeErr(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	default:
		// Only reachable if types.go gains a field type this decoder does
		// not know; say so instead of silently ignoring the value.
		d.obj.decodeErr(n.Line, path, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.obj.decodeErr(n.Line, path, "expected an integer, got %s", describe(n))
		return
	}
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v.OverflowInt(i) {
		d.obj.decodeErr(n.Line, path, "integer %s is out of range", n.Value)
		return
	}
	v.SetInt(i)
}

// decodeFloat takes a YAML number (12, 12.5); not .inf or .nan, which
// no policy field means.
func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
		d.obj.decodeErr(n.Line, path, "expected a number, got %s", describe(n))
		return
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.obj.decodeErr(n.Line, path, "%s is not a finite number", n.Value)
		return
	}
	v.SetFloat(f)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	const hint = "use a Go duration such as 250ms, 5s or 1m"
	if n.Kind != yaml.ScalarNode {
		d.obj.decodeErr(n.Line, path, "expected a duration, got %s; %s", describe(n), hint)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.obj.decodeErr(n.Line, path, "invalid duration %q; %s", n.Value, hint)
		return
	}
	if dur < 0 {
		d.obj.decodeErr(n.Line, path, "duration %q is negative; it must be >= 0", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// fieldInfo is one YAML-visible struct field; index is the reflect path
// through inlined (embedded) structs.
type fieldInfo struct {
	name  string
	index []int
}

// fieldCache memoizes structFields per type: reflection over the same few
// policy types on every object is otherwise a large share of decoding.
var fieldCache sync.Map // reflect.Type -> []fieldInfo

func structFields(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	f := computeFields(t)
	fieldCache.Store(t, f)
	return f
}

func computeFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			for _, sub := range computeFields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{name: name, index: []int{i}})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.obj.decodeErr(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]int{}
	d.eachPair(n, path, func(key string, kn, vn *yaml.Node) {
		var f fieldInfo
		for _, c := range fields {
			if c.name == key {
				f = c
				break
			}
		}
		if f.index == nil {
			names := make([]string, 0, len(fields))
			for _, f := range fields {
				names = append(names, f.name)
			}
			sort.Strings(names)
			d.obj.decodeErr(kn.Line, join(path, key), "unknown field %q; allowed: %s", key, strings.Join(names, ", "))
			return
		}
		if prev, dup := seen[key]; dup {
			d.obj.decodeErr(kn.Line, join(path, key), "duplicate field %q (first at line %d)", key, prev)
			return
		}
		seen[key] = kn.Line
		// A field's line is its key's: "spec:" rather than the first line
		// of the block under it.
		d.obj.setLine(join(path, key), kn.Line)
		d.decode(vn, v.FieldByIndex(f.index), join(path, key), depth+1)
	})
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.obj.decodeErr(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]int{}
	d.eachPair(n, path, func(key string, kn, vn *yaml.Node) {
		if prev, dup := seen[key]; dup {
			d.obj.decodeErr(kn.Line, join(path, key), "duplicate key %q (first at line %d)", key, prev)
			return
		}
		seen[key] = kn.Line
		d.obj.setLine(join(path, key), kn.Line)
		kv := reflect.ValueOf(key)
		if v.Type().Key().Kind() == reflect.Int {
			// Integer keys (a Transformation's status mapping, 404: 200).
			i, err := strconv.Atoi(key)
			if err != nil {
				d.obj.decodeErr(kn.Line, join(path, key), "key %q is not an integer", key)
				return
			}
			kv = reflect.ValueOf(i)
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(vn, ev, join(path, key), depth+1)
		v.SetMapIndex(kv.Convert(v.Type().Key()), ev)
	})
}

// eachPair walks a mapping's key/value pairs, rejecting non-scalar keys and
// merge keys ("<<"), whose semantics would make "unknown field" and line
// reporting ambiguous.
func (d *decoder) eachPair(n *yaml.Node, path string, fn func(key string, kn, vn *yaml.Node)) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.AliasNode && kn.Alias != nil {
			// The anchored scalar is the key, but errors about it belong
			// on the alias's line, where it is used.
			k := *kn.Alias
			k.Line, k.Column = kn.Line, kn.Column
			kn = &k
		}
		if kn.Kind != yaml.ScalarNode {
			d.obj.decodeErr(kn.Line, path, "mapping keys must be strings, got %s", describe(kn))
			continue
		}
		if kn.ShortTag() == "!!merge" {
			d.obj.decodeErr(kn.Line, path, "merge keys (<<) are not supported")
			continue
		}
		fn(kn.Value, kn, vn)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.SequenceNode {
		d.obj.decodeErr(n.Line, path, "expected a list, got %s", describe(n))
		return
	}
	// Always non-nil, so "[]" stays distinguishable from an omitted field.
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, en := range n.Content {
		d.decode(en, s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
	}
	v.Set(s)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type and value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		val := n.Value
		if len(val) > 40 {
			val = val[:40] + "..."
		}
		switch n.ShortTag() {
		case "!!str":
			return "string " + strconv.Quote(val)
		case "!!int":
			return "integer " + val
		case "!!float":
			return "number " + val
		case "!!bool":
			return "boolean " + val
		case "!!null":
			return "null"
		default:
			return n.ShortTag() + " " + strconv.Quote(val)
		}
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxUint32 bounds fields that Envoy carries as uint32.
const maxUint32 = math.MaxUint32

// decodeAny decodes a free-form value into what encoding/json would give
// for the same document (map[string]any, []any, string, float64 or int,
// bool, nil), so the value means the same written in YAML or JSON.
func (d *decoder) decodeAny(n *yaml.Node, path string, depth int) (any, bool) {
	if !d.within(n, path, depth) {
		return nil, false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			d.obj.decodeErr(n.Line, path, "unresolved alias")
			return nil, false
		}
		return d.decodeAny(n.Alias, path, depth+1)
	case yaml.MappingNode:
		m := map[string]any{}
		ok := true
		d.eachPair(n, path, func(key string, kn, vn *yaml.Node) {
			if _, dup := m[key]; dup {
				d.obj.decodeErr(kn.Line, join(path, key), "duplicate key %q", key)
				ok = false
				return
			}
			x, good := d.decodeAny(vn, join(path, key), depth+1)
			m[key], ok = x, ok && good
		})
		return m, ok
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, en := range n.Content {
			x, good := d.decodeAny(en, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if !good {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				d.obj.decodeErr(n.Line, path, "expected true or false, got %s", describe(n))
				return nil, false
			}
			return b, true
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
				return int(i), true
			}
			fallthrough
		case "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.obj.decodeErr(n.Line, path, "%s is not a finite number", n.Value)
				return nil, false
			}
			return f, true
		case "!!str", "!!timestamp":
			// An unquoted date is a string in JSON.
			return n.Value, true
		}
	}
	d.obj.decodeErr(n.Line, path, "expected a JSON value (string, number, boolean, null, list or mapping), got %s", describe(n))
	return nil, false
}
