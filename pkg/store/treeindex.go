package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// StoredObject is an object as a tree holds it.
type StoredObject struct {
	Object
	File string
	Line int // where the document starts in File
}

// policyFile is one YAML file split at its "---" lines, so that one
// document can be replaced or removed without touching the others.
type policyFile struct {
	path    string
	leading bool     // the file starts with a "---" line
	chunks  []string // the text between separator lines
	docs    []policyDoc
}

type policyDoc struct {
	node  *yaml.Node // the document's root mapping
	chunk int
	line  int
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?\r?\n`)

// splitFile splits data at its "---" lines and parses each part on its
// own. A part that does not parse alone (a "---" inside a block scalar)
// makes the file unsplittable: it can be read but not edited.
func splitFile(p string, data []byte) (*policyFile, error) {
	f := &policyFile{path: p}
	rest := data
	line := 1
	for first := true; ; first = false {
		loc := docSep.FindIndex(rest)
		if loc == nil {
			f.chunks = append(f.chunks, string(rest))
			break
		}
		if first && loc[0] == 0 {
			f.leading = true
		} else {
			f.chunks = append(f.chunks, string(rest[:loc[0]]))
		}
		rest = rest[loc[1]:]
	}
	for i, c := range f.chunks {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(c), &n); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", p, line, err)
		}
		if root := docRoot(&n); root != nil {
			f.docs = append(f.docs, policyDoc{node: root, chunk: i, line: line + root.Line - 1})
		}
		line += strings.Count(c, "\n") + 1 // the chunk and the separator after it
	}
	return f, nil
}

// setDoc replaces document i's text; "" removes it.
func (f *policyFile) setDoc(i int, text string) {
	f.chunks[f.docs[i].chunk] = text
}

// render joins the documents again; nil when no document is left (the
// file goes, with any comments it still had).
func (f *policyFile) render() []byte {
	var parts []string
	docs := 0
	for _, c := range f.chunks {
		if c == "" {
			continue // removed
		}
		var n yaml.Node
		if yaml.Unmarshal([]byte(c), &n) == nil && docRoot(&n) != nil {
			docs++
		}
		if !strings.HasSuffix(c, "\n") {
			c += "\n"
		}
		parts = append(parts, c)
	}
	if docs == 0 {
		return nil
	}
	out := strings.Join(parts, "---\n")
	if f.leading {
		out = "---\n" + out
	}
	return []byte(out)
}

type location struct {
	file *policyFile
	doc  int
	err  error // set when the object cannot be edited where it is
}

type treeIndex struct {
	tree    *Tree
	where   map[Ref]location
	objects []StoredObject
	// broken are the policy files that are not valid YAML: what they
	// define is unknown.
	broken []string
}

// isPolicyFile says whether the policy loader reads p: *.yaml and *.yml
// files outside hidden directories.
func isPolicyFile(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

// indexTree finds where every object of t is defined. Files that are not
// valid YAML are skipped (the policy loader reports them).
func indexTree(t *Tree) (*treeIndex, error) {
	idx := &treeIndex{tree: t, where: map[Ref]location{}}
	for _, p := range slices.Sorted(maps.Keys(t.Files)) {
		if !isPolicyFile(p) {
			continue
		}
		docs, err := decodeAll(t.Files[p])
		if err != nil {
			idx.broken = append(idx.broken, p)
			continue
		}
		f, splitErr := splitFile(p, t.Files[p])
		if splitErr == nil && !sameDocs(f.docs, docs) {
			splitErr = fmt.Errorf("%s: its documents cannot be told apart at its '---' lines", p)
		}
		for i, d := range docs {
			r := Ref{Kind: scalar(d, "kind"), Name: scalar(d, "name")}
			if d.Kind != yaml.MappingNode || r.Kind == "" || r.Name == "" {
				continue
			}
			idx.objects = append(idx.objects, StoredObject{Object: Object{Ref: r, Doc: d}, File: p, Line: d.Line})
			loc := location{file: f, doc: i}
			if splitErr != nil {
				loc = location{err: fmt.Errorf("%s cannot be edited in place: %w; edit the file by hand", r, splitErr)}
			}
			if prev, dup := idx.where[r]; dup {
				other := "another document"
				if prev.file != nil {
					other = prev.file.path
				}
				loc = location{err: fmt.Errorf("%s is defined twice (%s and %s): remove one definition first", r, other, p)}
			}
			idx.where[r] = loc
		}
	}
	return idx, nil
}

// sameDocs reports whether splitting at "---" lines found the documents
// the YAML parser finds: same count, same content in the same order. Only
// then may a document be edited by replacing its text.
func sameDocs(split []policyDoc, parsed []*yaml.Node) bool {
	if len(split) != len(parsed) {
		return false
	}
	for i := range split {
		if !sameContent(split[i].node, parsed[i]) {
			return false
		}
	}
	return true
}

func decodeAll(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if root := docRoot(&n); root != nil {
			out = append(out, root)
		}
	}
}

// mayDefine names a file that is not valid YAML and mentions r's kind and
// name: a new definition of r next to it could become a duplicate once
// that file is fixed.
func (idx *treeIndex) mayDefine(r Ref) string {
	for _, p := range idx.broken {
		data := idx.tree.Files[p]
		if bytes.Contains(data, []byte(r.Kind)) && bytes.Contains(data, []byte(r.Name)) {
			return p
		}
	}
	return ""
}

// newPath is the file a new object goes to: <kind>s/<name>.yaml, or with a
// numeric suffix when that file exists (holding something else).
func (idx *treeIndex) newPath(r Ref, taken map[string][]byte) string {
	base := strings.ToLower(r.Kind) + "s/" + r.Name
	p := base + ".yaml"
	for i := 2; ; i++ {
		_, inTree := idx.tree.Files[p]
		_, inApply := taken[p]
		if !inTree && !inApply {
			return p
		}
		p = fmt.Sprintf("%s-%d.yaml", base, i)
	}
}

// Objects lists the objects a tree defines, in file order.
func Objects(t *Tree) ([]StoredObject, error) {
	idx, err := indexTree(t)
	if err != nil {
		return nil, err
	}
	return idx.objects, nil
}
