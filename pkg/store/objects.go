package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Ref names one object: Kind/name.
type Ref struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (r Ref) String() string { return r.Kind + "/" + r.Name }

// Object is one policy object as the YAML document that defines it.
type Object struct {
	Ref
	// Doc is the object's mapping node (comments included).
	Doc *yaml.Node
}

// ObjectDiff says what an apply does to one object. Before and After are
// the object as canonical YAML ("" when it does not exist on that side).
type ObjectDiff struct {
	Ref    Ref    `json:"ref"`
	Action string `json:"action"` // created | configured | unchanged | deleted
	File   string `json:"file"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Actions of an ObjectDiff.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
	ActionDeleted    = "deleted"
)

// ErrNotFound: a deletion names an object no file defines.
var ErrNotFound = errors.New("no such object")

// nameRE is the policy model's name rule. The object layer checks it before
// policy does because the name becomes part of a file name.
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CanonicalKind returns the model's spelling of a kind given in any case,
// singular or plural ("routes" -> "Route"), as kubectl accepts them.
func CanonicalKind(s string) (string, bool) {
	l := strings.ToLower(s)
	for _, k := range policy.Kinds {
		lk := strings.ToLower(k)
		if l == lk || l == lk+"s" {
			return k, true
		}
	}
	return "", false
}

// ParseObjects reads a stream of YAML documents (JSON is YAML) holding
// policy objects. Every document must have a known kind and a valid name;
// an object given twice is an error. YAML is kept as written (comments
// too); a JSON object loses its flow style so that the stored file reads
// like hand-written YAML.
func ParseObjects(data []byte) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []Object
	var errs []error
	seen := map[Ref]int{}
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		root := docRoot(&doc)
		if root == nil {
			continue // empty document
		}
		if root.Kind == yaml.SequenceNode { // a JSON array of objects
			for j, item := range root.Content {
				o, err := objectOf(item, fmt.Sprintf("document %d, item %d (line %d)", i, j+1, item.Line))
				errs = append(errs, err)
				if err == nil {
					objs = append(objs, o)
				}
			}
			continue
		}
		o, err := objectOf(root, fmt.Sprintf("document %d (line %d)", i, root.Line))
		errs = append(errs, err)
		if err == nil {
			objs = append(objs, o)
		}
	}
	for i, o := range objs {
		if j, dup := seen[o.Ref]; dup {
			errs = append(errs, fmt.Errorf("%s is given twice (objects %d and %d): give each object once", o.Ref, j+1, i+1))
		}
		seen[o.Ref] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return objs, nil
}

func objectOf(n *yaml.Node, where string) (Object, error) {
	if n.Kind != yaml.MappingNode {
		return Object{}, fmt.Errorf("%s: expected an object (a mapping with kind, name and spec)", where)
	}
	kind, name := scalar(n, "kind"), scalar(n, "name")
	k, ok := CanonicalKind(kind)
	if !ok || k != kind {
		return Object{}, fmt.Errorf("%s: kind: %q is not a kind; one of %s", where, kind, strings.Join(policy.Kinds, ", "))
	}
	if !nameRE.MatchString(name) {
		return Object{}, fmt.Errorf("%s: %s: name: %q must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", where, kind, name)
	}
	if n.Style&yaml.FlowStyle != 0 { // JSON, or YAML written as JSON
		plainStyle(n)
	}
	return Object{Ref: Ref{kind, name}, Doc: n}, nil
}

// plainStyle turns flow collections (JSON) into block style.
func plainStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style &^= yaml.FlowStyle
	}
	if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 && n.Tag == "!!str" {
		n.Style &^= yaml.DoubleQuotedStyle // the encoder quotes where needed
	}
	for _, c := range n.Content {
		plainStyle(c)
	}
}

func docRoot(doc *yaml.Node) *yaml.Node {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return root
}

func scalar(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// Canonical renders an object the same way whatever its layout: block
// style, no comments, fields in their order. Diffs compare these.
func Canonical(doc *yaml.Node) string {
	s, err := Encode(stripped(doc))
	if err != nil {
		return fmt.Sprintf("# cannot render: %v\n", err)
	}
	return s
}

func stripped(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if c.Kind != yaml.ScalarNode || c.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		c.Style = 0
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = stripped(k)
	}
	return &c
}

// Encode renders one object's document as YAML.
func Encode(doc *yaml.Node) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// encodeFaithful renders an object as written if that text reads back as
// the same content, else in canonical block style (yaml.v3 writes an empty
// value inside a flow collection as "", which reads back as a string), else
// refuses: what is stored must mean what was applied.
func encodeFaithful(doc *yaml.Node) (string, error) {
	for _, n := range []*yaml.Node{doc, stripped(doc)} {
		text, err := Encode(n)
		if err != nil {
			return "", err
		}
		var back yaml.Node
		if yaml.Unmarshal([]byte(text), &back) == nil && docRoot(&back) != nil && sameContent(docRoot(&back), doc) {
			return text, nil
		}
	}
	return "", errors.New("cannot be written as YAML that reads back the same: write it in block style")
}

// sameContent compares two objects by what they mean, not how they are
// written: re-applying a file with other comments or layout is unchanged.
func sameContent(a, b *yaml.Node) bool {
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// PlanApply computes the file changes that apply objs and delete dels in
// t, and what happens to each object. An object already defined in a file
// is replaced in that file (its other documents keep their bytes); a new
// one gets a file of its own, <kind>s/<name>.yaml; a deletion removes the
// document, and the file with its last document. Objects whose content is
// unchanged leave their file alone. An object a file that is not valid
// YAML may define is refused: it would be defined twice once that file is
// fixed.
func PlanApply(t *Tree, objs []Object, dels []Ref) ([]Change, []ObjectDiff, error) {
	idx, err := indexTree(t)
	if err != nil {
		return nil, nil, err
	}
	edited := map[string]*policyFile{}
	var diffs []ObjectDiff
	var errs []error
	created := map[string][]byte{}
	for _, o := range objs {
		text, err := encodeFaithful(o.Doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Ref, err))
			continue
		}
		after := Canonical(o.Doc)
		loc, ok := idx.where[o.Ref]
		if !ok {
			if f := idx.mayDefine(o.Ref); f != "" {
				errs = append(errs, fmt.Errorf("%s may be defined in %s, which is not valid YAML: fix or remove that file first", o.Ref, f))
				continue
			}
			p := idx.newPath(o.Ref, created)
			created[p] = []byte(text)
			diffs = append(diffs, ObjectDiff{Ref: o.Ref, Action: ActionCreated, File: p, After: after})
			continue
		}
		if loc.err != nil {
			errs = append(errs, loc.err)
			continue
		}
		doc := loc.file.docs[loc.doc]
		before := Canonical(doc.node)
		if sameContent(doc.node, o.Doc) {
			diffs = append(diffs, ObjectDiff{Ref: o.Ref, Action: ActionUnchanged, File: loc.file.path, Before: before, After: before})
			continue
		}
		loc.file.setDoc(loc.doc, text)
		edited[loc.file.path] = loc.file
		diffs = append(diffs, ObjectDiff{Ref: o.Ref, Action: ActionConfigured, File: loc.file.path, Before: before, After: after})
	}
	for _, r := range dels {
		loc, ok := idx.where[r]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %w", r, ErrNotFound))
			continue
		}
		if loc.err != nil {
			errs = append(errs, loc.err)
			continue
		}
		before := Canonical(loc.file.docs[loc.doc].node)
		loc.file.setDoc(loc.doc, "")
		edited[loc.file.path] = loc.file
		diffs = append(diffs, ObjectDiff{Ref: r, Action: ActionDeleted, File: loc.file.path, Before: before})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	var changes []Change
	for p, f := range edited {
		changes = append(changes, Change{Path: p, Content: f.render()})
	}
	for p, b := range created {
		changes = append(changes, Change{Path: p, Content: b})
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return changes, diffs, nil
}

// RollbackChanges are the file changes that turn cur into target.
func RollbackChanges(cur, target *Tree) []Change {
	var out []Change
	for p, b := range target.Files {
		if old, ok := cur.Files[p]; !ok || !bytes.Equal(old, b) {
			out = append(out, Change{Path: p, Content: b})
		}
	}
	for p := range cur.Files {
		if _, ok := target.Files[p]; !ok {
			out = append(out, Change{Path: p})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Apply writes changes to a copy of t's files: the tree an apply would
// produce, for validation.
func Apply(t *Tree, changes []Change) *Tree {
	files := make(map[string][]byte, len(t.Files))
	for p, b := range t.Files {
		files[p] = b
	}
	for _, c := range changes {
		if c.Content == nil {
			delete(files, c.Path)
		} else {
			files[c.Path] = c.Content
		}
	}
	return &Tree{Files: files}
}
