package authz

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// protoToAST converts a message to a Rego value the way opa-envoy-plugin
// (v1.19.1 and later) exposes a CheckRequest: it walks the message
// (envoyauth/protomap.go) rather than going through protojson. Keys are
// the JSON field names (metadataContext); unset fields are omitted; a
// google.protobuf.Struct is its map (AsMap); every other message, the
// well-known types included, is an object of its fields (request.time is
// {"seconds": ..., "nanos": ...}); 64-bit integers and enums are numbers;
// bytes are base64 (what OPA's JSON round trip of a []byte gives). It
// builds the ast.Value directly because marshalling to JSON and parsing it
// back costs more than the policy evaluation itself.
func protoToAST(m protoreflect.Message) *ast.Term {
	return protoToASTFor(m, needAll)
}

// protoToASTFor converts the fields of m that need reaches; the key of a
// field is its JSON name, as the policy sees it.
func protoToASTFor(m protoreflect.Message, need *inputNeed) *ast.Term {
	if whole, ok := wholeMessages[m.Descriptor().FullName()]; ok {
		return whole(m)
	}
	if !need.all {
		// Visit only the fields the policy reads: the others (peers,
		// metadata, every header) are not even looked at.
		obj := ast.NewObjectWithCapacity(len(need.fields))
		fields := m.Descriptor().Fields()
		for key, n := range need.fields {
			if fd := fields.ByJSONName(key); fd != nil && m.Has(fd) {
				insertField(obj, m, fd, m.Get(fd), n)
			}
		}
		return ast.NewTerm(obj)
	}
	obj := ast.NewObjectWithCapacity(m.Descriptor().Fields().Len())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		insertField(obj, m, fd, v, needAll)
		return true
	})
	return ast.NewTerm(obj)
}

// wholeMessages are the messages converted whole, whatever a policy reads
// of them: only google.protobuf.Struct, which opa-envoy-plugin turns into
// its map (AsMap) where it walks every other message field by field.
var wholeMessages = map[protoreflect.FullName]func(protoreflect.Message) *ast.Term{
	"google.protobuf.Struct": func(m protoreflect.Message) *ast.Term { return structToAST(m.Interface().(*structpb.Struct)) },
}

// insertField adds field fd of m, converted as far as n reaches, to obj.
func insertField(obj ast.Object, m protoreflect.Message, fd protoreflect.FieldDescriptor, v protoreflect.Value, n *inputNeed) {
	var t *ast.Term
	switch {
	case fd.IsMap():
		if sm, ok := stringMap(m, fd); ok {
			t = stringMapToAST(sm, n)
		} else {
			t = mapToAST(fd, v.Map(), n)
		}
	case fd.IsList():
		l := v.List()
		terms := make([]*ast.Term, l.Len())
		for i := range terms {
			terms[i] = fieldValueToAST(fd, l.Get(i))
		}
		t = ast.ArrayTerm(terms...)
	default:
		t = fieldValueToASTFor(fd, v, n)
	}
	obj.Insert(fieldKey(fd), t)
}

// fieldKeys caches the key term of each field: the CheckRequest schema is
// fixed, so its few dozen names are built once rather than per request.
// Terms used as object keys are never modified by evaluation.
var fieldKeys sync.Map // protoreflect.FieldDescriptor -> *ast.Term

func fieldKey(fd protoreflect.FieldDescriptor) *ast.Term {
	if t, ok := fieldKeys.Load(fd); ok {
		return t.(*ast.Term)
	}
	t, _ := fieldKeys.LoadOrStore(fd, ast.StringTerm(fd.JSONName()))
	return t.(*ast.Term)
}

// stringMap returns the Go map behind the CheckRequest's string maps
// (request headers, context extensions, peer labels): reading it directly
// skips protoreflect's per-entry conversions on the hottest part of the input.
func stringMap(m protoreflect.Message, fd protoreflect.FieldDescriptor) (map[string]string, bool) {
	switch x := m.Interface().(type) {
	case *authv3.AttributeContext_HttpRequest:
		if fd.Number() == 3 { // headers
			return x.GetHeaders(), true
		}
	case *authv3.AttributeContext:
		if fd.Number() == 10 { // context_extensions
			return x.GetContextExtensions(), true
		}
	case *authv3.AttributeContext_Peer:
		if fd.Number() == 3 { // labels
			return x.GetLabels(), true
		}
	}
	return nil, false
}

// stringMapToAST converts the entries need reaches: a policy that reads
// only the authorization header gets only that header.
func stringMapToAST(sm map[string]string, need *inputNeed) *ast.Term {
	if !need.all {
		obj := ast.NewObjectWithCapacity(len(need.fields))
		for k := range need.fields {
			if v, ok := sm[k]; ok {
				obj.Insert(ast.StringTerm(k), ast.StringTerm(v))
			}
		}
		return ast.NewTerm(obj)
	}
	obj := ast.NewObjectWithCapacity(len(sm))
	for k, v := range sm {
		obj.Insert(ast.StringTerm(k), ast.StringTerm(v))
	}
	return ast.NewTerm(obj)
}

func mapToAST(fd protoreflect.FieldDescriptor, m protoreflect.Map, need *inputNeed) *ast.Term {
	obj := ast.NewObjectWithCapacity(m.Len())
	vfd := fd.MapValue()
	m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		ks := k.String()
		n := need.child(ks)
		if n == nil {
			return true
		}
		obj.Insert(ast.StringTerm(ks), fieldValueToASTFor(vfd, v, n))
		return true
	})
	return ast.NewTerm(obj)
}

func fieldValueToAST(fd protoreflect.FieldDescriptor, v protoreflect.Value) *ast.Term {
	return fieldValueToASTFor(fd, v, needAll)
}

func fieldValueToASTFor(fd protoreflect.FieldDescriptor, v protoreflect.Value, need *inputNeed) *ast.Term {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return protoToASTFor(v.Message(), need)
	}
	return scalarToAST(fd, v)
}

// scalarToAST converts a scalar as OPA's ast.InterfaceToValue converts the
// Go value protoreflect gives for it (opa-envoy-plugin's input): integers of
// every width and enums are numbers, bytes go through encoding/json
// (standard base64).
func scalarToAST(fd protoreflect.FieldDescriptor, v protoreflect.Value) *ast.Term {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return ast.InternedTerm(v.Bool())
	case protoreflect.StringKind:
		return ast.StringTerm(v.String())
	case protoreflect.BytesKind:
		return ast.StringTerm(base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.EnumKind:
		return ast.InternedTerm(int(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return ast.InternedTerm(int(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if u := v.Uint(); u <= math.MaxInt64 {
			return ast.InternedTerm(int(u))
		}
		return ast.NumberTerm(json.Number(strconv.FormatUint(v.Uint(), 10)))
	case protoreflect.FloatKind:
		// A float32 reaches OPA through encoding/json.
		b, err := json.Marshal(float32(v.Float()))
		if err != nil {
			return floatToAST(v.Float())
		}
		return ast.NumberTerm(json.Number(b))
	case protoreflect.DoubleKind:
		return floatToAST(v.Float())
	}
	return ast.NullTerm()
}

// floatToAST is OPA's conversion of a float64 (shortest 'g' form, so 2e9
// is 2e+09). NaN and the infinities, which no JSON number can hold, are
// strings; OPA would fail to build the input.
func floatToAST(f float64) *ast.Term {
	switch {
	case math.IsNaN(f):
		return ast.StringTerm("NaN")
	case math.IsInf(f, 1):
		return ast.StringTerm("Infinity")
	case math.IsInf(f, -1):
		return ast.StringTerm("-Infinity")
	}
	return ast.NumberTerm(json.Number(strconv.FormatFloat(f, 'g', -1, 64)))
}

func structToAST(s *structpb.Struct) *ast.Term {
	obj := ast.NewObjectWithCapacity(len(s.GetFields()))
	for k, v := range s.GetFields() {
		obj.Insert(ast.StringTerm(k), valueToAST(v))
	}
	return ast.NewTerm(obj)
}

func listToAST(l *structpb.ListValue) *ast.Term {
	terms := make([]*ast.Term, len(l.GetValues()))
	for i, v := range l.GetValues() {
		terms[i] = valueToAST(v)
	}
	return ast.ArrayTerm(terms...)
}

func valueToAST(v *structpb.Value) *ast.Term {
	switch k := v.GetKind().(type) {
	case *structpb.Value_BoolValue:
		return ast.InternedTerm(k.BoolValue)
	case *structpb.Value_StringValue:
		return ast.StringTerm(k.StringValue)
	case *structpb.Value_NumberValue:
		return floatToAST(k.NumberValue)
	case *structpb.Value_StructValue:
		return structToAST(k.StructValue)
	case *structpb.Value_ListValue:
		return listToAST(k.ListValue)
	}
	return ast.NullTerm()
}
