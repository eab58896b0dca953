package policy

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeKinds has a field of every kind the decoder handles, so each
// message ("file:line: ref: field: message") is checked on its own,
// independently of the policy types.
type decodeKinds struct {
	Meta    `yaml:",inline"`
	Name2   string            `yaml:"name2"`
	Count   int               `yaml:"count"`
	Small   int8              `yaml:"small"`
	On      bool              `yaml:"on"`
	Wait    Duration          `yaml:"wait"`
	List    []string          `yaml:"list"`
	Tags    map[string]string `yaml:"tags"`
	Nested  *decodeKinds      `yaml:"nested"`
	Present *struct{}         `yaml:"present"`
	Skipped string            `yaml:"-"`
	Plain   string
	Float   float64 `yaml:"float"`
	Natural uint    `yaml:"natural"`
	hidden  string
}

// decodeYAML decodes text into a decodeKinds and returns it with the
// error lines.
func decodeYAML(t *testing.T, text string) (decodeKinds, []string, *objErrs) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	o := newObjErrs("k.yaml", 1)
	o.ref = "Kinds/k"
	d := &decoder{obj: o}
	var v decodeKinds
	d.decode(&doc, reflect.ValueOf(&v).Elem(), "", 0)
	return v, o.messages(), o
}

func TestDecoderValuesAndLines(t *testing.T) {
	v, errs, o := decodeYAML(t, `kind: K
name: k
name2: |
  literal
count: 0x10
small: -128
on: false
wait: 0s
list: []
tags: {a: b}
nested:
  count: 3
  nested: {on: true}
present:
plain: p
`)
	if len(errs) != 0 {
		t.Fatalf("errors %q", errs)
	}
	want := decodeKinds{Meta: Meta{Kind: "K", Name: "k"}, Name2: "literal\n", Count: 16, Small: -128, List: []string{},
		Tags: map[string]string{"a": "b"}, Nested: &decodeKinds{Count: 3, Nested: &decodeKinds{On: true}}, Present: &struct{}{}, Plain: "p"}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("decoded %+v\nwant    %+v", v, want)
	}
	for path, line := range map[string]int{"name2": 3, "count": 5, "nested": 11, "nested.count": 12, "nested.nested": 13, "nested.nested.on": 13, "tags.a": 10, "list": 9} {
		if got := o.lineOf(path); got != line || !o.has(path) {
			t.Errorf("line of %s = %d (present %v), want %d", path, got, o.has(path), line)
		}
	}
	if !o.literal["name2"] || o.literal["plain"] {
		t.Errorf("literal block scalars: %v, want name2 only", o.literal)
	}
	if !o.has("on") || o.has("float") {
		t.Errorf("present: on %v (false is a value), float %v (omitted)", o.has("on"), o.has("float"))
	}
}

func TestDecoderMessages(t *testing.T) {
	long := strings.Repeat("x", 41)
	for _, c := range []struct{ text, want string }{
		{"count: abc", `k.yaml:1: Kinds/k: count: expected an integer, got string "abc"`},
		{"count: 1.5", `k.yaml:1: Kinds/k: count: expected an integer, got number 1.5`},
		{"count: [1]", `k.yaml:1: Kinds/k: count: expected an integer, got a list`},
		{"small: 128", `k.yaml:1: Kinds/k: small: integer 128 is out of range`},
		{"small: -129", `k.yaml:1: Kinds/k: small: integer -129 is out of range`},
		{"count: 99999999999999999999", `k.yaml:1: Kinds/k: count: expected an integer, got number 99999999999999999999`},
		{"count: !!int 99999999999999999999", `k.yaml:1: Kinds/k: count: integer 99999999999999999999 is out of range`},
		{"on: yes", `k.yaml:1: Kinds/k: on: expected true or false, got string "yes"`},
		{"on: {a: 1}", `k.yaml:1: Kinds/k: on: expected true or false, got a mapping`},
		{`on: "true"`, `k.yaml:1: Kinds/k: on: expected true or false, got string "true"`},
		{"on: 1", `k.yaml:1: Kinds/k: on: expected true or false, got integer 1`},
		{"on: !!bool maybe", `k.yaml:1: Kinds/k: on: expected true or false, got boolean maybe`},
		{"wait: -1s", `k.yaml:1: Kinds/k: wait: duration "-1s" is negative; it must be >= 0`},
		{"wait: 5", `k.yaml:1: Kinds/k: wait: invalid duration "5"; use a Go duration such as 250ms, 5s or 1m`},
		{"wait: [1s]", `k.yaml:1: Kinds/k: wait: expected a duration, got a list; use a Go duration such as 250ms, 5s or 1m`},
		{"name2: [a]", `k.yaml:1: Kinds/k: name2: expected a string, got a list`},
		{"list: a", `k.yaml:1: Kinds/k: list: expected a list, got string "a"`},
		{"list: [a, [b]]", `k.yaml:1: Kinds/k: list[1]: expected a string, got a list`},
		{"tags: [a]", `k.yaml:1: Kinds/k: tags: expected a mapping, got a list`},
		{"tags: {a: b, a: c}", `k.yaml:1: Kinds/k: tags.a: duplicate key "a" (first at line 1)`},
		{"nested: 3", `k.yaml:1: Kinds/k: nested: expected a mapping, got integer 3`},
		{"nested: true", `k.yaml:1: Kinds/k: nested: expected a mapping, got boolean true`},
		{"nested: ~", ""},
		{"nested: " + long, `k.yaml:1: Kinds/k: nested: expected a mapping, got string "` + long[:40] + `..."`},
		{"nested: " + long[:40], `k.yaml:1: Kinds/k: nested: expected a mapping, got string "` + long[:40] + `"`},
		{"nested: !custom x", `k.yaml:1: Kinds/k: nested: expected a mapping, got !custom "x"`},
		{"nested: {bogus: 1}", `k.yaml:1: Kinds/k: nested.bogus: unknown field "bogus"; allowed: count, float, kind, labels, list, name, name2, natural, nested, on, plain, present, small, tags, wait`},
		{"count: 1\ncount: 2", `k.yaml:2: Kinds/k: count: duplicate field "count" (first at line 1)`},
		{"? [a]\n: 1", `k.yaml:1: Kinds/k: mapping keys must be strings, got a list`},
		{"natural: 1", `k.yaml:1: Kinds/k: natural: internal: cannot decode into uint`},
		{"float: abc", `k.yaml:1: Kinds/k: float: expected a number, got string "abc"`},
		{"float: [1.5]", `k.yaml:1: Kinds/k: float: expected a number, got a list`},
		{"float: .inf", `k.yaml:1: Kinds/k: float: .inf is not a finite number`},
		{"float: !!float inf", `k.yaml:1: Kinds/k: float: inf is not a finite number`},
		{"float: !!float nan", `k.yaml:1: Kinds/k: float: nan is not a finite number`},
		{"float: !!float x", `k.yaml:1: Kinds/k: float: x is not a finite number`},
		{"hidden: x", `k.yaml:1: Kinds/k: hidden: unknown field "hidden"; allowed: count, float, kind, labels, list, name, name2, natural, nested, on, plain, present, small, tags, wait`},
		{"skipped: x", `k.yaml:1: Kinds/k: skipped: unknown field "skipped"; allowed: count, float, kind, labels, list, name, name2, natural, nested, on, plain, present, small, tags, wait`},
	} {
		_, errs, _ := decodeYAML(t, c.text)
		if c.want == "" {
			if len(errs) != 0 {
				t.Errorf("%q: errors %q, want none", c.text, errs)
			}
			continue
		}
		if len(errs) != 1 || errs[0] != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.text, errs, c.want)
		}
	}
}

// A mapping key that is an alias of a scalar is that scalar; an alias of a
// mapping is not a key.
func TestDecoderAliasKeys(t *testing.T) {
	v, errs, _ := decodeYAML(t, "plain: &k count\n*k : 5\n")
	if len(errs) != 0 || v.Count != 5 || v.Plain != "count" {
		t.Errorf("alias key: count %d plain %q errors %q", v.Count, v.Plain, errs)
	}
	// An alias node without its target (only a hand-built tree has one)
	// is not a key either.
	o := newObjErrs("k.yaml", 1)
	n := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.AliasNode, Line: 3}, {Kind: yaml.ScalarNode, Tag: "!!int", Value: "5"}}}
	var k decodeKinds
	(&decoder{obj: o}).decode(n, reflect.ValueOf(&k).Elem(), "", 0)
	if got := o.messages(); len(got) != 1 || got[0] != "k.yaml:3: k.yaml: mapping keys must be strings, got an alias" {
		t.Errorf("alias without target as a key: errors %q", got)
	}
	// Errors about an aliased key point at the alias, where the key is used,
	// not at its anchor.
	_, errs, _ = decodeYAML(t, "plain: &k count\ncount: 1\n*k : 5\n")
	if len(errs) != 1 || errs[0] != `k.yaml:3: Kinds/k: count: duplicate field "count" (first at line 2)` {
		t.Errorf("duplicate aliased key: errors %q", errs)
	}
	_, errs, _ = decodeYAML(t, "tags: &m {a: b}\n*m : 5\n")
	if len(errs) != 1 || errs[0] != "k.yaml:2: Kinds/k: mapping keys must be strings, got a mapping" {
		t.Errorf("alias of a mapping as a key: errors %q", errs)
	}
}

// The nesting limit counts levels: a value at depth maxDecodeDepth
// decodes, one a level deeper does not. Each nested struct costs two
// levels (the pointer and the struct): with 30 levels of "nested", the
// struct is at depth 63, its count at 64 and a tag's value at 65.
func TestDecoderDepthLimit(t *testing.T) {
	nest := func(levels int, inner string) string {
		return "nested: " + strings.Repeat("{nested: ", levels) + inner + strings.Repeat("}", levels)
	}
	v, errs, _ := decodeYAML(t, nest(30, "{count: 1}"))
	if len(errs) != 0 {
		t.Errorf("a value at depth 64: errors %q", errs)
	}
	inner := v.Nested
	for i := 0; i < 30 && inner != nil; i++ {
		inner = inner.Nested
	}
	if inner == nil || inner.Count != 1 {
		t.Errorf("the value at depth 64 was not decoded")
	}
	for inner, field := range map[string]string{"{tags: {a: b}}": ".tags.a: ", "{list: [a]}": ".list[0]: "} {
		_, errs, _ = decodeYAML(t, nest(30, inner))
		if len(errs) != 1 || !strings.HasSuffix(errs[0], ": nested too deeply (more than 64 levels)") || !strings.Contains(errs[0], field) {
			t.Errorf("a value at depth 65 (%s): errors %q", inner, errs)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		n    yaml.Node
		want string
	}{
		{yaml.Node{Kind: yaml.MappingNode}, "a mapping"},
		{yaml.Node{Kind: yaml.SequenceNode}, "a list"},
		{yaml.Node{Kind: yaml.AliasNode}, "an alias"},
		{yaml.Node{Kind: yaml.DocumentNode}, "nothing"},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "~"}, "null"},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "7"}, "integer 7"},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "7.5"}, "number 7.5"},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}, "boolean true"},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "a\"b"}, `string "a\"b"`},
		{yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: "AA=="}, `!!binary "AA=="`},
	} {
		if got := describe(&c.n); got != c.want {
			t.Errorf("describe(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
}

// The node limit is exact: a document of maxDecodeNodes values decodes, one
// more is one error (not one per extra value) and the extra values are not
// decoded. The document node, the mapping and the list count one each.
func TestDecoderNodeLimitBoundary(t *testing.T) {
	list := func(n int) string {
		return "list: [" + strings.TrimSuffix(strings.Repeat("a, ", n), ", ") + "]"
	}
	v, errs, _ := decodeYAML(t, list(maxDecodeNodes-3))
	if len(errs) != 0 || len(v.List) != maxDecodeNodes-3 || v.List[len(v.List)-1] != "a" {
		t.Errorf("%d values: errors %q, %d decoded", maxDecodeNodes, errs, len(v.List))
	}
	v, errs, _ = decodeYAML(t, list(maxDecodeNodes))
	want := "k.yaml:1: Kinds/k: list[49997]: document too large or aliases expand too much (more than 50000 values)"
	if len(errs) != 1 || errs[0] != want {
		t.Errorf("%d values: errors %q, want %q", maxDecodeNodes+3, errs, want)
	}
	if v.List[maxDecodeNodes-4] != "a" || v.List[maxDecodeNodes-3] != "" {
		t.Errorf("values past the limit were decoded")
	}
}

// An alias costs a level, so a chain of aliases cannot reach past the depth
// limit; an empty document decodes to nothing.
func TestDecoderAliasDepthAndEmptyDocument(t *testing.T) {
	text := "plain: &c x\nnested: " + strings.Repeat("{nested: ", 30) + "{name2: *c}" + strings.Repeat("}", 30)
	_, errs, _ := decodeYAML(t, text)
	if len(errs) != 1 || !strings.HasSuffix(errs[0], ".name2: nested too deeply (more than 64 levels)") {
		t.Errorf("alias at depth 64: errors %q", errs)
	}
	o := newObjErrs("k.yaml", 1)
	var v decodeKinds
	(&decoder{obj: o}).decode(&yaml.Node{Kind: yaml.DocumentNode}, reflect.ValueOf(&v).Elem(), "", 0)
	if len(o.errs) != 0 || !reflect.DeepEqual(v, decodeKinds{}) {
		t.Errorf("empty document: %+v, errors %q", v, o.messages())
	}
}

// An explicit null is the same as leaving the field out, except for a
// presence-only field (*struct{}), where "present:" means "present: {}".
func TestDecoderNullIsOmitted(t *testing.T) {
	v, errs, o := decodeYAML(t, "nested: ~\nlist: ~\ntags: null\npresent:\nplain: ~\ncount: ~\n")
	if len(errs) != 0 {
		t.Fatalf("errors %q", errs)
	}
	if want := (decodeKinds{Present: &struct{}{}}); !reflect.DeepEqual(v, want) {
		t.Errorf("decoded %+v, want %+v", v, want)
	}
	for _, p := range []string{"nested", "list", "tags", "present", "plain", "count"} {
		if !o.has(p) {
			t.Errorf("%s: a null field is not recorded as present", p)
		}
	}
}

// A number field takes YAML floats and integers alike.
func TestDecoderFloat(t *testing.T) {
	for text, want := range map[string]float64{"float: 1.5": 1.5, "float: 2": 2, "float: -0.25": -0.25, "float: 1e3": 1000} {
		v, errs, _ := decodeYAML(t, text)
		if len(errs) != 0 || v.Float != want {
			t.Errorf("%q: %v, errors %q; want %v", text, v.Float, errs, want)
		}
	}
}

// decodeFree has a free-form field (as a Transformation's literal), which
// decodeAny fills.
type decodeFree struct {
	Meta `yaml:",inline"`
	Free any `yaml:"free"`
}

func decodeFreeYAML(t *testing.T, text string) (any, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	o := newObjErrs("k.yaml", 1)
	o.ref = "Free/k"
	var v decodeFree
	(&decoder{obj: o}).decode(&doc, reflect.ValueOf(&v).Elem(), "", 0)
	return v.Free, o.messages()
}

// A free-form value shares the document's node limit, exactly: the
// document, the mapping, the field and the list count one each (the field
// twice: once as a field, once as a value), so maxDecodeNodes-4 values
// decode and one more is refused.
func TestDecodeAnyNodeLimitBoundary(t *testing.T) {
	list := func(n int) string {
		return "free: [" + strings.TrimSuffix(strings.Repeat("a, ", n), ", ") + "]"
	}
	v, errs := decodeFreeYAML(t, list(maxDecodeNodes-4))
	if l, ok := v.([]any); len(errs) != 0 || !ok || len(l) != maxDecodeNodes-4 {
		t.Errorf("%d values: errors %q", maxDecodeNodes-4, errs)
	}
	v, errs = decodeFreeYAML(t, list(maxDecodeNodes-3))
	if v != nil || len(errs) != 1 || !strings.HasSuffix(errs[0], ": document too large or aliases expand too much (more than 50000 values)") {
		t.Errorf("%d values: %T, errors %q", maxDecodeNodes-3, v, errs)
	}
}

// A free-form value follows aliases, so an alias bomb (each level lists
// the one before ten times: 10^6 values from a few lines) must stop at the
// node limit, not be expanded: no value, and one error naming the limit.
func TestDecodeAnyAliasBomb(t *testing.T) {
	text, prev := "free:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n", "a"
	for _, l := range []string{"b", "c", "d", "e", "f"} {
		text += "  " + l + ": &" + l + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", ") + "]\n"
		prev = l
	}
	v, errs := decodeFreeYAML(t, text)
	if v != nil || len(errs) == 0 {
		t.Fatalf("alias bomb decoded: %T, errors %q", v, errs)
	}
	// One error: the limit is reported once, not once per value after it.
	if len(errs) != 1 || !strings.HasSuffix(errs[0], ": document too large or aliases expand too much (more than 50000 values)") {
		t.Errorf("alias bomb: errors %q", errs)
	}
}

// The nesting limit holds in a free-form value as in typed fields, for
// mappings and lists alike: 62 levels inside the field decode (the field
// is at depth 2), 63 do not.
func TestDecodeAnyDepthLimit(t *testing.T) {
	for name, nest := range map[string]func(int) string{
		"mappings": func(n int) string { return strings.Repeat("{a: ", n) + "1" + strings.Repeat("}", n) },
		"lists":    func(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) },
	} {
		if v, errs := decodeFreeYAML(t, "free: "+nest(62)); len(errs) != 0 || v == nil {
			t.Errorf("%s, 62 levels: errors %q", name, errs)
		}
		if v, errs := decodeFreeYAML(t, "free: "+nest(63)); v != nil || len(errs) != 1 || !strings.HasSuffix(errs[0], ": nested too deeply (more than 64 levels)") {
			t.Errorf("%s, 63 levels: %v, errors %q", name, v, errs)
		}
	}
}

// A free-form number is an int when it fits in 32 bits (at both ends),
// otherwise a float64; an integer or float tag on what is not a finite
// number is refused, not read as 0.
func TestDecodeAnyNumbers(t *testing.T) {
	for text, want := range map[string]any{
		"2147483647": 2147483647, "-2147483648": -2147483648, "0x10": 16,
		"2147483648": float64(2147483648), "-2147483649": float64(-2147483649), "1.5": 1.5,
	} {
		if v, errs := decodeFreeYAML(t, "free: "+text); len(errs) != 0 || v != want {
			t.Errorf("%s: %T %v, errors %q; want %T %v", text, v, v, errs, want, want)
		}
	}
	for _, text := range []string{"!!int abc", "!!float abc", ".inf", "-.inf", ".nan", "!!int .inf"} {
		if v, errs := decodeFreeYAML(t, "free: "+text); v != nil || len(errs) != 1 || !strings.HasSuffix(errs[0], "is not a finite number") {
			t.Errorf("%s: %v, errors %q", text, v, errs)
		}
	}
}

// In a free-form value too, following an alias costs a level: a value
// reached through an alias at the deepest level allowed is one level too
// deep, so aliases cannot carry a value past the nesting limit.
func TestDecodeAnyAliasCostsALevel(t *testing.T) {
	doc := func(n int, inner string) string { // a list of the anchor and n more levels
		return "free: [&c 1, " + strings.Repeat("[", n) + inner + strings.Repeat("]", n) + "]"
	}
	if v, errs := decodeFreeYAML(t, doc(61, "1")); len(errs) != 0 || v == nil {
		t.Fatalf("62 levels: errors %q", errs)
	}
	if v, errs := decodeFreeYAML(t, doc(60, "*c")); len(errs) != 0 || v == nil {
		t.Errorf("alias at 61 levels: errors %q", errs)
	}
	if v, errs := decodeFreeYAML(t, doc(61, "*c")); v != nil || len(errs) != 1 || !strings.HasSuffix(errs[0], ": nested too deeply (more than 64 levels)") {
		t.Errorf("alias at 62 levels: %v, errors %q", v, errs)
	}
}
