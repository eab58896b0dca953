package authz

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The lazy input is the opa-envoy-plugin input of buildInput, built on
// demand: the VM reads input.attributes.request.http.headers.authorization
// by walking the CheckRequest, without building any object on the way.
// Whatever a policy uses as a whole value (passed to a built-in, iterated,
// compared, returned) is materialized once, to exactly what buildInput
// gives; TestLazyInputMatchesBuildInput holds the two to each other.
//
// A lazy node belongs to one evaluation (one goroutine): its memo is not
// synchronized.

// lazyBase implements ast.Value for a lazy node by materializing it, so a
// node that reaches OPA code by any path still behaves as its value.
type lazyBase struct {
	self interface{ build() *ast.Term } // the node embedding this base
	mat  *ast.Term
}

func (l *lazyBase) Materialize() *ast.Term {
	if l.mat == nil {
		l.mat = l.self.build()
	}
	return l.mat
}

func (l *lazyBase) Compare(other ast.Value) int {
	if o, ok := other.(interface{ Materialize() *ast.Term }); ok {
		other = o.Materialize().Value
	}
	return l.Materialize().Value.Compare(other)
}
func (l *lazyBase) Find(path ast.Ref) (ast.Value, error) { return l.Materialize().Value.Find(path) }
func (l *lazyBase) Hash() int                            { return l.Materialize().Value.Hash() }
func (l *lazyBase) IsGround() bool                       { return true }
func (l *lazyBase) String() string                       { return l.Materialize().Value.String() }
func (l *lazyBase) StringLength() int                    { return l.Materialize().Value.StringLength() }

// lazyMessage is a protobuf message under input.attributes.
type lazyMessage struct {
	lazyBase
	root  *lazyRoot // allocates the nodes below this one
	m     protoreflect.Message
	kids  [3]lazyKid // the first fields read: a policy reads http.path in several rules
	nkids int
}

type lazyKid struct {
	key string
	val *ast.Term
}

// message returns a lazy node for m: from the root's slab for the first
// few (attributes, request, http: what every policy walks), so a decision
// allocates one root rather than a node and a term per level.
func (r *lazyRoot) message(m protoreflect.Message) *ast.Term {
	var l *lazyMessage
	var t *ast.Term
	if r.nmsgs < len(r.msgs) {
		l, t = &r.msgs[r.nmsgs], &r.terms[r.nmsgs]
		r.nmsgs++
	} else {
		l, t = &lazyMessage{}, &ast.Term{}
	}
	l.root, l.m = r, m
	l.self = l
	t.Value = l
	return t
}

// stringMap returns a lazy node for sm, from the root's slab for the first.
func (r *lazyRoot) stringMap(sm map[string]string) *ast.Term {
	if !r.smUsed {
		r.smUsed = true
		r.sm.sm, r.sm.root = sm, r
		r.sm.self = &r.sm
		r.smTerm.Value = &r.sm
		return &r.smTerm
	}
	l := &lazyStringMap{root: r, sm: sm}
	l.self = l
	return ast.NewTerm(l)
}

func (l *lazyMessage) build() *ast.Term { return protoToAST(l.m) }

// Dot is the field with JSON name key, converted as protoToAST converts
// it; nil when the field is unset (protojson omits it) or key is not a
// field name.
func (l *lazyMessage) Dot(key *ast.Term) *ast.Term {
	if l.mat != nil {
		return l.mat.Get(key)
	}
	s, ok := key.Value.(ast.String)
	if !ok {
		return nil
	}
	for _, k := range l.kids[:l.nkids] {
		if k.key == string(s) {
			return k.val
		}
	}
	v := l.field(string(s))
	if l.nkids < len(l.kids) {
		l.kids[l.nkids] = lazyKid{string(s), v}
		l.nkids++
	}
	return v
}

func (l *lazyMessage) field(s string) *ast.Term {
	// The path every policy walks, without protoreflect; the general way
	// below gives the same (TestLazyInputMatchesBuildInput).
	switch m := l.m.Interface().(type) {
	case *authv3.AttributeContext_HttpRequest:
		if v, ok := l.root.httpField(m, s); ok {
			return v
		}
	case *authv3.AttributeContext:
		if s == "request" {
			if m.GetRequest() == nil {
				return nil
			}
			return l.root.message(m.GetRequest().ProtoReflect())
		}
	case *authv3.AttributeContext_Request:
		if s == "http" {
			if m.GetHttp() == nil {
				return nil
			}
			return l.root.message(m.GetHttp().ProtoReflect())
		}
	}
	fd := l.m.Descriptor().Fields().ByJSONName(s)
	if fd == nil || !l.m.Has(fd) {
		return nil
	}
	if fd.IsMap() {
		if sm, ok := stringMap(l.m, fd); ok {
			return l.root.stringMap(sm)
		}
	}
	if !fd.IsMap() && !fd.IsList() && fd.Kind() == protoreflect.MessageKind {
		if _, whole := wholeMessages[fd.Message().FullName()]; !whole {
			return l.root.message(l.m.Get(fd).Message())
		}
	}
	if fd.IsMap() || fd.IsList() {
		obj := ast.NewObjectWithCapacity(1)
		insertField(obj, l.m, fd, l.m.Get(fd), needAll)
		return obj.Get(fieldKey(fd))
	}
	return fieldValueToAST(fd, l.m.Get(fd))
}

// httpField reads the HTTP request's string fields and headers without
// protoreflect: every policy reads some of them. ok is false for the
// other fields, which go the general way. protojson omits empty strings
// and maps (proto3 scalars without presence), so they are undefined.
func (r *lazyRoot) httpField(h *authv3.AttributeContext_HttpRequest, key string) (*ast.Term, bool) {
	var v string
	switch key {
	case "method":
		v = h.GetMethod()
	case "path":
		v = h.GetPath()
	case "host":
		v = h.GetHost()
	case "scheme":
		v = h.GetScheme()
	case "protocol":
		v = h.GetProtocol()
	case "id":
		v = h.GetId()
	case "query":
		v = h.GetQuery()
	case "fragment":
		v = h.GetFragment()
	case "body":
		v = h.GetBody()
	case "headers":
		if len(h.GetHeaders()) == 0 {
			return nil, true
		}
		return r.stringMap(h.GetHeaders()), true
	default:
		return nil, false
	}
	if v == "" {
		return nil, true
	}
	return r.stringTerm(v), true
}

// stringTerm is ast.StringTerm with the term from the root's slab.
func (r *lazyRoot) stringTerm(v string) *ast.Term {
	if r != nil && r.nstrs < len(r.strs) {
		t := &r.strs[r.nstrs]
		r.nstrs++
		t.Value = ast.String(v)
		return t
	}
	return ast.StringTerm(v)
}

// lazyStringMap is a map<string, string> field: headers, context
// extensions, peer labels.
type lazyStringMap struct {
	lazyBase
	root *lazyRoot
	sm   map[string]string
}

func (l *lazyStringMap) build() *ast.Term { return stringMapToAST(l.sm, needAll) }

func (l *lazyStringMap) Dot(key *ast.Term) *ast.Term {
	s, ok := key.Value.(ast.String)
	if !ok {
		return nil
	}
	v, ok := l.sm[string(s)]
	if !ok {
		return nil
	}
	return l.root.stringTerm(v)
}

// lazyRoot is the input document itself.
type lazyRoot struct {
	lazyBase
	req      *authv3.CheckRequest
	parsed   parsedRequest
	gh       gatehouseInfo
	term     ast.Term // holds the root, for the evaluator
	ghTerm   *ast.Term
	attrs    *ast.Term
	path     *ast.Term
	query    *ast.Term
	hasPrinc bool

	// Slabs for the nodes nearly every decision creates.
	msgs   [3]lazyMessage
	terms  [3]ast.Term
	nmsgs  int
	sm     lazyStringMap
	smTerm ast.Term
	smUsed bool
	strs   [4]ast.Term
	nstrs  int
}

// parsedRequest is what buildInput derives from the path and body; the
// lazy input parses them up front, because a malformed path, query or
// body is an input error whatever the policy reads.
type parsedRequest struct {
	body      *ast.Term
	truncated bool
}

// gatehouseInfo is what input.gatehouse is built from, when read.
type gatehouseInfo struct {
	gateway, route, policy string
	id                     identity
}

// init makes l the lazy input of req, after checking its path, query and
// body as buildInput does for a policy with this input need. The caller allocates (or reuses) the root.
func (l *lazyRoot) init(req *authv3.CheckRequest, maxBody int, gh gatehouseInfo, need *inputNeed) error {
	h := req.GetAttributes().GetRequest().GetHttp()
	if err := checkHeaderSize(h); err != nil {
		return err
	}
	if _, _, err := parsePathFor(h.GetPath(), false, false); err != nil {
		return err
	}
	body, err := checkBody(h, maxBody, need)
	if err != nil {
		return err
	}
	l.req, l.gh, l.parsed = req, gh, parsedRequest{body: body.term, truncated: body.truncated}
	l.hasPrinc = req.GetAttributes().GetSource().GetPrincipal() != ""
	l.self = l
	l.term.Value = l
	return nil
}

func (l *lazyRoot) Dot(key *ast.Term) *ast.Term {
	s, ok := key.Value.(ast.String)
	if !ok {
		return nil
	}
	switch s {
	case "attributes":
		if l.attrs == nil {
			if a := l.req.GetAttributes(); a != nil {
				l.attrs = l.message(a.ProtoReflect())
			} else {
				l.attrs = ast.ObjectTerm()
			}
		}
		return l.attrs
	case "version":
		return versionTerm
	case "gatehouse":
		if l.ghTerm == nil {
			g := l.gh
			l.ghTerm = gatehouseTerm(g.gateway, g.route, g.policy, g.id)
		}
		return l.ghTerm
	case "source_principal":
		if !l.hasPrinc {
			return nil
		}
		return ast.StringTerm(l.req.GetAttributes().GetSource().GetPrincipal())
	case "parsed_path", "parsed_query":
		if l.path == nil {
			// Checked in init: no error here.
			l.path, l.query, _ = parsePath(l.req.GetAttributes().GetRequest().GetHttp().GetPath())
		}
		if s == "parsed_path" {
			return l.path
		}
		return l.query
	case "parsed_body":
		return l.parsed.body
	case "truncated_body":
		return ast.InternedTerm(l.parsed.truncated)
	}
	return nil
}

// build is buildInput's whole input.
func (l *lazyRoot) build() *ast.Term {
	keys := []string{"attributes", "version", "gatehouse", "source_principal", "parsed_path", "parsed_query", "parsed_body", "truncated_body"}
	obj := ast.NewObjectWithCapacity(len(keys))
	for _, k := range keys {
		key := ast.StringTerm(k)
		if v := l.Dot(key); v != nil {
			if lz, ok := v.Value.(interface{ Materialize() *ast.Term }); ok {
				v = lz.Materialize()
			}
			obj.Insert(key, v)
		}
	}
	return ast.NewTerm(obj)
}
