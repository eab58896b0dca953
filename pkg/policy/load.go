package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kinds lists every kind the model defines, in the order errors list them.
var Kinds = []string{KindGateway, KindService, KindRoute, KindAuthentication, KindAuthorization, KindConsumer, KindPlan, KindRateLimit, KindFirewall, KindTransformation}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

const nameRule = `must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? (lowercase letters, digits and '-', at most 63 characters)`

// object is one decoded document before cross-object checks.
type object struct {
	errs *objErrs
	kind string
	name string // "" when the object has no usable name
	val  any    // *Gateway, *Service, ... (newObject); nil if not decodable
}

// fileResult is what one policy file yielded.
type fileResult struct {
	name    string
	objects []*object
	syntax  *objErrs // set when the file is not valid YAML or cannot be read
	// unusable says why the file gave no objects, for the previous
	// objects it defined: "has a YAML syntax error (line N)" and the like.
	unusable string
}

// Load reads every *.yaml / *.yml file under fsys (subdirectories included,
// hidden files and directories skipped), validates the objects and resolves
// references. It never fails as a whole: objects with errors are listed in
// Rejected, and if prev held a valid version of such an object, that version
// is carried over so a bad edit never takes working config away.
//
// A file that is not valid YAML gets one entry (Ref = the file name) with
// the syntax error, and each object prev had from that file gets its own
// entry: CarriedOver if it is still served, or an explanation if it had to
// be dropped because its references no longer resolve.
//
// Duplicate names are errors on every definition (not first-wins), so the
// result never depends on file order; prev's version is carried over.
//
// An object no longer defined (deleted or renamed) that a served object
// still references keeps prev's version and is listed as carried over; a
// Route defined but not served with no version in prev holds back the
// Gateways it names (Snapshot.Held). See keep.go.
//
// The Snapshot is internally consistent: every reference in it resolves,
// and no API key hash or JWT (issuer, sub) belongs to two Consumers.
// Defaults are not filled in (empty hosts mean ["*"], an empty path match
// means prefix "/", and so on); the translator applies them.
//
// Files that policies name (certificates, JWKS, Rego) are read from fsys
// and must lie inside it; use LoadWith to allow paths such as
// ../policies/users.rego.
func Load(fsys fs.FS, prev *Snapshot) *Snapshot {
	return LoadWith(fsys, prev, Options{})
}

// Options change how Load reads the files that policies name.
type Options struct {
	// ReadFile, if set, reads a file named by a policy (certificate, JWKS,
	// Rego). name is slash-separated, cleaned, and relative to the policy
	// directory (the root of fsys); unlike an fs.FS path it may start with
	// "../", since POLICY-MODEL.md lets a policy name ../policies/x.rego.
	// Absolute paths never reach it. If nil, files are read from fsys and
	// a path leaving it is an error.
	ReadFile func(name string) ([]byte, error)
}

// DirReader returns an Options.ReadFile that reads name relative to the
// operating-system directory dir, including paths that leave dir: policy
// authors can then make gatehouse read any file it may read (and send a
// certificate or key it names to proxies), so the policy directory must be
// as trusted as gatehouse's own configuration.
func DirReader(dir string) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	}
}

// FSReader returns an Options.ReadFile that reads name relative to dir
// inside root: for a policy directory that is a subdirectory of a larger
// fs.FS (fs.Sub(root, dir) as Load's fsys). Paths may leave dir but not
// root.
func FSReader(root fs.FS, dir string) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		full := path.Join(dir, name)
		if !fs.ValidPath(full) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return fs.ReadFile(root, full)
	}
}

// LoadDir loads the policy directory dir of the operating system: what
// gatehouse serve and validate use. Policies may name files outside dir by
// relative paths.
func LoadDir(dir string, prev *Snapshot) *Snapshot {
	return LoadWith(os.DirFS(dir), prev, Options{ReadFile: DirReader(dir)})
}

// LoadWith is Load with Options.
func LoadWith(fsys fs.FS, prev *Snapshot, opts Options) *Snapshot {
	files, walkErrs := policyFiles(fsys)
	var results []*fileResult
	for _, f := range files {
		results = append(results, parseFile(fsys, f))
	}
	l := &loader{files: &fileReader{fsys: fsys, read: opts.ReadFile}, prev: prev, walkErrs: walkErrs}
	snap := l.build(results)
	for f := range l.files.outside {
		snap.ExternalFiles = append(snap.ExternalFiles, f)
	}
	sort.Strings(snap.ExternalFiles)
	return snap
}

// walkError is a directory (or entry) the walk could not read: the files
// under it are unknown, not deleted.
type walkError struct {
	path string
	errs *objErrs
}

// policyFiles lists policy files in lexical order, and what could not be
// read.
func policyFiles(fsys fs.FS) ([]string, []walkError) {
	var files []string
	var errs []walkError
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			o := newObjErrs(p, 0)
			o.addAt(0, "", "cannot read: %v", err)
			errs = append(errs, walkError{path: p, errs: o})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		hidden := p != "." && strings.HasPrefix(d.Name(), ".")
		if d.IsDir() {
			if hidden {
				return fs.SkipDir
			}
			return nil
		}
		ext := path.Ext(p)
		if !hidden && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		o := newObjErrs(".", 0)
		o.addAt(0, "", "cannot read policy directory: %v", err)
		errs = append(errs, walkError{path: ".", errs: o})
	}
	return files, errs
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): `)
	yamlAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced`)
)

// syntaxPos extracts the line of a yaml.v3 syntax error. yaml.v3 reports
// parser (not scanner) errors with a 0-based line, and none at all on the
// first line, so those are corrected here; an unknown anchor is located by
// searching for its use. Unknown positions default to line 1.
func syntaxPos(msg string, data []byte) (int, string) {
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = "yaml: " + msg[len(m[0]):]
	}
	rest := strings.TrimPrefix(msg, "yaml: ")
	for _, p := range []string{"did not find expected", "found undefined tag handle", "found duplicate %", "found incompatible YAML document"} {
		if strings.HasPrefix(rest, p) {
			line++
			break
		}
	}
	if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil && line == 0 {
		for i, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, []byte("*"+m[1])) {
				line = i + 1
				break
			}
		}
	}
	if line == 0 {
		line = 1
	}
	return line, msg
}

// parseFile splits a file into documents and decodes each. A YAML syntax
// error anywhere makes the whole file unusable: it cannot be split reliably.
// Only regular files are read (after following symlinks, as mounted
// ConfigMaps need): opening a FIFO would block the build loop for good.
//
// The YAML parser and the decoder are fed with user input: a panic in
// either (or in fsys) becomes this file's error, not the control plane's
// end, and the file counts as unreadable (its previous objects stay).
func parseFile(fsys fs.FS, file string) (res *fileResult) {
	res = &fileResult{name: file}
	unreadable := func(line int, why, format string, args ...any) *fileResult {
		res.objects = nil
		res.syntax = newObjErrs(file, line)
		res.syntax.addAt(line, "", format, args...)
		res.unusable = why
		return res
	}
	defer func() {
		if r := recover(); r != nil {
			res = unreadable(0, "could not be parsed", "cannot parse: internal error: %v", r)
		}
	}()
	fi, err := fs.Stat(fsys, file)
	if err == nil && !fi.Mode().IsRegular() {
		return unreadable(0, "cannot be read", "cannot read: %s, not a regular file", fileKind(fi.Mode()))
	}
	var data []byte
	if err == nil {
		data, err = fs.ReadFile(fsys, file)
	}
	if err != nil {
		return unreadable(0, "cannot be read", "cannot read: %v", err)
	}
	docs, err := splitDocs(data)
	if err != nil {
		line, msg := syntaxPos(err.Error(), data)
		return unreadable(line, fmt.Sprintf("has a YAML syntax error (line %d)", line), "%s", msg)
	}
	for _, doc := range docs {
		if o := decodeObject(file, doc); o != nil {
			res.objects = append(res.objects, o)
		}
	}
	return res
}

// fileKind names what a non-regular directory entry is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}

func splitDocs(data []byte) (docs []*yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// decodeObject decodes one document; nil for an empty document.
func decodeObject(file string, doc *yaml.Node) *object {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if isNull(root) {
		return nil // "---" followed by nothing, or only comments
	}
	o := &object{errs: newObjErrs(file, root.Line)}
	if root.Kind != yaml.MappingNode {
		o.errs.addAt(root.Line, "", "expected an object (a mapping with kind, name and spec), got %s", describe(root))
		return o
	}
	// Name the object before decoding, so every error carries its Kind/name.
	kindNode, nameNode := topScalar(root, "kind"), topScalar(root, "name")
	if kindNode == nil && topScalar(root, "openapi") != nil {
		// An OpenAPI document (a Validation's openapi file, which users keep
		// next to their policies, often as YAML) is data, not an object.
		return nil
	}
	if kindNode != nil {
		o.kind = kindNode.Value
	}
	if nameNode != nil && nameRE.MatchString(nameNode.Value) {
		o.name = nameNode.Value
	}
	known := false
	for _, k := range Kinds {
		known = known || k == o.kind
	}
	if known && o.name != "" {
		o.errs.ref = o.kind + "/" + o.name
	}
	switch {
	case kindNode == nil:
		o.errs.addAt(root.Line, "kind", "required; one of %s", strings.Join(Kinds, ", "))
		return o
	case !known:
		o.errs.addAt(kindNode.Line, "kind", "unknown kind %q; one of %s", o.kind, strings.Join(Kinds, ", "))
		return o
	}
	target := newObject(o.kind)
	d := &decoder{obj: o.errs}
	d.decode(root, reflect.ValueOf(target).Elem(), "", 0)
	switch {
	case !o.errs.has("name"):
		o.errs.addAt(root.Line, "name", "required; it %s", nameRule)
	case nameNode != nil && o.name == "":
		o.errs.addAt(nameNode.Line, "name", "%q is not a valid name: it %s", nameNode.Value, nameRule)
	}
	if !o.errs.has("spec") {
		o.errs.decodeErr(root.Line, "spec", "required")
	}
	meta := metaOf(target)
	meta.File, meta.Line = file, root.Line
	o.val = target
	return o
}

// topScalar returns the scalar value node of key in a mapping, or nil.
func topScalar(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			if v := m.Content[i+1]; v.Kind == yaml.ScalarNode {
				return v
			}
			return nil
		}
	}
	return nil
}

// sortRejected orders entries by file, line, then ref, so output never
// depends on map iteration.
func sortRejected(r []Rejected) {
	sort.SliceStable(r, func(i, j int) bool {
		if r[i].File != r[j].File {
			return r[i].File < r[j].File
		}
		if r[i].Line != r[j].Line {
			return r[i].Line < r[j].Line
		}
		return r[i].Ref < r[j].Ref
	})
}
