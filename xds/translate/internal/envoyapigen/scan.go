package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// tags are the Envoy API comment tags that mark an element Envoy does not
// ship: hidden because not implemented (both spellings occur in Envoy's
// protos), or alpha.
var tags = map[string]*regexp.Regexp{
	"not implemented": regexp.MustCompile(`\[#not-implemented-hide:?\]`),
	"alpha":           regexp.MustCompile(`\[#alpha:?\]`),
}

// table is what the scan finds: full proto name to the reason.
type table struct {
	Messages, Fields, EnumValues map[string]string
	Files                        int // .pb.go files read
}

func scan(mods []module) (*table, error) {
	t := &table{Messages: map[string]string{}, Fields: map[string]string{}, EnumValues: map[string]string{}}
	for _, m := range mods {
		err := filepath.WalkDir(m.Dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() || !strings.HasSuffix(name, ".pb.go") || strings.HasSuffix(name, "_vtproto.pb.go") {
				return nil
			}
			rel, _ := filepath.Rel(m.Dir, path)
			if err := scanFile(path, t); err != nil {
				return fmt.Errorf("%s/%s: %w", m.Path, filepath.ToSlash(rel), err)
			}
			t.Files++
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// goNames maps the Go identifiers protoc-gen-go derives from one file's
// descriptor to proto full names.
type goNames struct {
	messages map[string]string            // Go struct name -> message full name
	fields   map[string]map[string]string // message full name -> proto field name -> oneof name ("" if none)
	values   map[string]string            // Go enum constant -> enum value full name
}

func scanFile(path string, t *table) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return err
	}
	fd, err := rawDescriptor(f)
	if err != nil {
		return err
	}
	if fd == nil {
		return nil // e.g. a .pb.go file of gRPC stubs only
	}
	names := namesOf(fd)
	found := map[string]bool{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gd.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				st, ok := s.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := s.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if full, ok := names.messages[s.Name.Name]; ok {
					found[full] = true
					mark(t.Messages, full, doc)
					for _, fl := range st.Fields.List {
						if fn := protoName(fl); fn != "" {
							mark(t.Fields, full+"."+fn, fl.Doc)
						}
					}
					continue
				}
				// A oneof wrapper (Msg_Field): its one field is the oneof
				// member; the message is the longest Go name prefix with
				// that field in a oneof.
				if len(st.Fields.List) != 1 {
					continue
				}
				fn := protoName(st.Fields.List[0])
				if fn == "" {
					continue
				}
				owner := ""
				for goName, full := range names.messages {
					if strings.HasPrefix(s.Name.Name, goName+"_") && len(goName) > len(owner) && names.fields[full][fn] != "" {
						owner = goName
					}
				}
				if owner == "" {
					return fmt.Errorf("oneof wrapper %s: no message with a oneof field %q", s.Name.Name, fn)
				}
				mark(t.Fields, names.messages[owner]+"."+fn, st.Fields.List[0].Doc)
			case *ast.ValueSpec:
				if gd.Tok != token.CONST {
					continue
				}
				for _, id := range s.Names {
					if full, ok := names.values[id.Name]; ok {
						mark(t.EnumValues, full, s.Doc)
					}
				}
			}
		}
	}
	for goName, full := range names.messages {
		if !found[full] {
			return fmt.Errorf("message %s: no Go struct %s (protoc-gen-go naming changed?)", full, goName)
		}
	}
	return nil
}

// mark records name under the first tag its comment carries.
func mark(into map[string]string, name string, doc *ast.CommentGroup) {
	if doc == nil {
		return
	}
	text := doc.Text()
	for _, reason := range []string{"not implemented", "alpha"} {
		if tags[reason].MatchString(text) {
			into[name] = reason
			return
		}
	}
}

// protoName is the proto field name in a struct field's protobuf tag.
func protoName(fl *ast.Field) string {
	if fl.Tag == nil {
		return ""
	}
	tag, err := strconv.Unquote(fl.Tag.Value)
	if err != nil {
		return ""
	}
	for _, part := range strings.Split(reflect.StructTag(tag).Get("protobuf"), ",") {
		if n, ok := strings.CutPrefix(part, "name="); ok {
			return n
		}
	}
	return ""
}

// rawDescriptor decodes the file's serialized FileDescriptorProto, which
// protoc-gen-go writes as a string constant named file_<path>_rawDesc.
func rawDescriptor(f *ast.File) (*descriptorpb.FileDescriptorProto, error) {
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || !strings.HasSuffix(vs.Names[0].Name, "_rawDesc") || len(vs.Values) != 1 {
				continue
			}
			var b strings.Builder
			if err := concat(vs.Values[0], &b); err != nil {
				return nil, fmt.Errorf("%s: %w", vs.Names[0].Name, err)
			}
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal([]byte(b.String()), fd); err != nil {
				return nil, fmt.Errorf("%s: %w", vs.Names[0].Name, err)
			}
			return fd, nil
		}
	}
	for _, decl := range f.Decls {
		if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			for _, spec := range gd.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if strings.HasSuffix(n.Name, "_rawDesc") {
						return nil, fmt.Errorf("%s is not a string constant (protoc-gen-go older than v1.36?)", n.Name)
					}
				}
			}
		}
	}
	return nil, nil
}

// concat evaluates a constant expression of string literals joined by +.
func concat(e ast.Expr, b *strings.Builder) error {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		if err != nil {
			return err
		}
		b.WriteString(s)
		return nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return fmt.Errorf("unexpected operator %s", e.Op)
		}
		if err := concat(e.X, b); err != nil {
			return err
		}
		return concat(e.Y, b)
	case *ast.ParenExpr:
		return concat(e.X, b)
	}
	return fmt.Errorf("unexpected expression %T", e)
}

// namesOf derives protoc-gen-go's Go names: a nested message is
// Parent_Child; an enum value is Enum_VALUE for a top-level enum and
// Parent_VALUE for one nested in a message.
func namesOf(fd *descriptorpb.FileDescriptorProto) *goNames {
	n := &goNames{messages: map[string]string{}, fields: map[string]map[string]string{}, values: map[string]string{}}
	pkg := fd.GetPackage()
	enums := func(es []*descriptorpb.EnumDescriptorProto, scope, goParent string) {
		for _, e := range es {
			prefix := goParent
			if prefix == "" {
				prefix = goCamelCase(e.GetName())
			}
			for _, v := range e.GetValue() {
				// Enum values are scoped beside their enum, as in C++.
				n.values[prefix+"_"+v.GetName()] = scope + "." + v.GetName()
			}
		}
	}
	var messages func(ms []*descriptorpb.DescriptorProto, scope, goParent string)
	messages = func(ms []*descriptorpb.DescriptorProto, scope, goParent string) {
		for _, m := range ms {
			if m.GetOptions().GetMapEntry() {
				continue
			}
			full := scope + "." + m.GetName()
			goName := goCamelCase(m.GetName())
			if goParent != "" {
				goName = goParent + "_" + goName
			}
			n.messages[goName] = full
			fs := map[string]string{}
			for _, f := range m.GetField() {
				oneof := ""
				if f.OneofIndex != nil && !f.GetProto3Optional() {
					oneof = m.GetOneofDecl()[f.GetOneofIndex()].GetName()
				}
				fs[f.GetName()] = oneof
			}
			n.fields[full] = fs
			enums(m.GetEnumType(), full, goName)
			messages(m.GetNestedType(), full, goName)
		}
	}
	enums(fd.GetEnumType(), pkg, "")
	messages(fd.GetMessageType(), pkg, "")
	return n
}

// goCamelCase is protoc-gen-go's rule for Go identifiers: a word (a letter
// and the lower-case letters after it) starts upper case, an underscore
// before a lower-case letter goes. The scan fails on any message whose Go
// name it cannot find, so a mistake here cannot drop entries silently.
func goCamelCase(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && i+1 < len(s) && isLower(s[i+1]):
		case c == '.':
			b = append(b, '_')
		case c == '_' && (i == 0 || s[i-1] == '.'):
			b = append(b, 'X')
		case c == '_' && i+1 < len(s) && isLower(s[i+1]):
		case isDigit(c):
			b = append(b, c)
		default:
			if isLower(c) { // a word starts upper case
				c -= 'a' - 'A'
			}
			b = append(b, c)
			for ; i+1 < len(s) && isLower(s[i+1]); i++ {
				b = append(b, s[i+1])
			}
		}
	}
	return string(b)
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
