package authz

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// protoToAST converts a message to a Rego value the way opa-envoy-plugin
// exposes a CheckRequest: the protojson mapping (JSON field names such as
// metadataContext, 64-bit integers as strings, bytes as base64, enums by
// name, well-known types by their JSON form, unset fields omitted). It
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

// wholeMessages are the well-known types with a JSON form of their own:
// they are converted whole, whatever a policy reads of them.
var wholeMessages = map[protoreflect.FullName]func(protoreflect.Message) *ast.Term{
	"google.protobuf.Struct":    func(m protoreflect.Message) *ast.Term { return structToAST(m.Interface().(*structpb.Struct)) },
	"google.protobuf.Value":     func(m protoreflect.Message) *ast.Term { return valueToAST(m.Interface().(*structpb.Value)) },
	"google.protobuf.ListValue": func(m protoreflect.Message) *ast.Term { return listToAST(m.Interface().(*structpb.ListValue)) },
	"google.protobuf.Timestamp": wellKnownToAST,
	"google.protobuf.Duration":  wellKnownToAST,
	"google.protobuf.Any":       wellKnownToAST,
	"google.protobuf.FieldMask": wellKnownToAST,
	"google.protobuf.Empty":     wellKnownToAST,
	"google.protobuf.BoolValue": wrapperToAST, "google.protobuf.StringValue": wrapperToAST,
	"google.protobuf.BytesValue": wrapperToAST, "google.protobuf.Int32Value": wrapperToAST,
	"google.protobuf.UInt32Value": wrapperToAST, "google.protobuf.Int64Value": wrapperToAST,
	"google.protobuf.UInt64Value": wrapperToAST, "google.protobuf.FloatValue": wrapperToAST,
	"google.protobuf.DoubleValue": wrapperToAST,
}

// wrapperToAST is a wrapper type's value, as protojson writes it.
func wrapperToAST(m protoreflect.Message) *ast.Term {
	fd := m.Descriptor().Fields().ByName("value")
	return scalarToAST(fd, m.Get(fd))
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

func scalarToAST(fd protoreflect.FieldDescriptor, v protoreflect.Value) *ast.Term {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return ast.InternedTerm(v.Bool())
	case protoreflect.StringKind:
		return ast.StringTerm(v.String())
	case protoreflect.BytesKind:
		return ast.StringTerm(base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return ast.StringTerm(string(ev.Name()))
		}
		return ast.NumberTerm(json.Number(strconv.FormatInt(int64(v.Enum()), 10)))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return ast.InternedTerm(int(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return ast.NumberTerm(json.Number(strconv.FormatUint(v.Uint(), 10)))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return ast.StringTerm(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return ast.StringTerm(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return floatToAST(v.Float())
	}
	return ast.NullTerm()
}

// floatToAST follows protojson: NaN and infinities are strings.
func floatToAST(f float64) *ast.Term {
	switch {
	case math.IsNaN(f):
		return ast.StringTerm("NaN")
	case math.IsInf(f, 1):
		return ast.StringTerm("Infinity")
	case math.IsInf(f, -1):
		return ast.StringTerm("-Infinity")
	}
	// Integral values (JWT exp, nbf, iat) print without an exponent, as
	// protojson prints them, so string conversions in policies agree.
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return ast.NumberTerm(json.Number(strconv.FormatFloat(f, 'f', -1, 64)))
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

// wellKnownToAST handles the rare well-known types through protojson, which
// defines their JSON form; a type it cannot encode (an Any of an unknown
// type) becomes null rather than failing the whole request.
func wellKnownToAST(m protoreflect.Message) *ast.Term {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		fs := m.Descriptor().Fields()
		sec, nanos := m.Get(fs.ByName("seconds")).Int(), m.Get(fs.ByName("nanos")).Int()
		return ast.StringTerm(formatTimestamp(sec, nanos))
	}
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		return ast.NullTerm()
	}
	v, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		return ast.NullTerm()
	}
	return ast.NewTerm(v)
}

// formatTimestamp prints a Timestamp as protojson does: RFC 3339 in UTC
// with 0, 3, 6 or 9 fractional digits.
func formatTimestamp(sec, nanos int64) string {
	t := time.Unix(sec, nanos).UTC()
	switch {
	case nanos == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case nanos%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case nanos%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}
