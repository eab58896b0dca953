package transcode

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// RequestPath reports whether the JSON request body of b can hold a field
// at path (dotted names, a number indexes a repeated field, as
// pkg/transform reads them), in the message the transcoder parses the
// body into: the method's input, or the field named by the rule's body
// ("*": the whole input). The transcoder's JSON parser accepts a field's
// JSON name and its proto name. judged is false when b maps no body
// (body unset: nothing to hold), the body is a google.api.HttpBody (raw
// bytes) or the call is client-streaming (the body is a stream of
// messages): such a binding is not judged.
func (b *Binding) RequestPath(path []string) (judged, ok bool, why string) {
	if b.method == nil || b.Body == "" || b.method.IsStreamingClient() {
		return false, true, ""
	}
	md, at := b.method.Input(), string(b.method.Input().FullName())
	if b.Body != "*" {
		fd, err := resolve(md, b.Body)
		if err != nil {
			return false, true, "" // refused when the set loads
		}
		if m := fd.Message(); m != nil && m.FullName() == httpBody {
			return false, true, ""
		}
		ok, why = fieldCanHold(fd, path, b.Body, nameBoth)
		return true, ok, why
	}
	if md.FullName() == httpBody {
		return false, true, ""
	}
	ok, why = messageCanHold(md, path, at, nameBoth)
	return true, ok, why
}

// ResponsePath reports whether the JSON response the transcoder prints
// for b can hold a field at path: the method's output message, printed
// with its fields' JSON names (lowerCamelCase), or their proto names when
// protoNames (print_options.preserve_proto_field_names). judged is false
// for a response_body or an HttpBody output (raw bytes, not the message's
// JSON) and a server-streaming call (a JSON array of messages).
func (b *Binding) ResponsePath(path []string, protoNames bool) (judged, ok bool, why string) {
	if b.method == nil || b.ResponseBody != "" || b.method.IsStreamingServer() {
		return false, true, ""
	}
	names := nameJSON
	if protoNames {
		names = nameProto
	}
	md := b.method.Output()
	if md.FullName() == httpBody {
		return false, true, ""
	}
	ok, why = messageCanHold(md, path, string(md.FullName()), names)
	return true, ok, why
}

// httpBody is passed through as raw bytes, not JSON, in either direction
// (Envoy: json_transcoder_filter.cc, the HttpBody request and response
// paths): a body that is one is not judged.
const httpBody protoreflect.FullName = "google.api.HttpBody"

// fieldNames: which names a JSON body uses for a field.
type fieldNames int

const (
	nameBoth  fieldNames = iota // a request: the parser accepts either
	nameJSON                    // a printed response, by default
	nameProto                   // preserve_proto_field_names
)

// openBelow are the well-known messages whose JSON is free-form: anything
// below them can exist.
var openBelow = map[protoreflect.FullName]bool{
	"google.protobuf.Struct":    true,
	"google.protobuf.Value":     true,
	"google.protobuf.ListValue": true,
	"google.protobuf.Any":       true,
}

// scalarJSON are the well-known messages printed as a JSON scalar (or,
// for Empty, an object without fields): nothing below them exists.
func scalarJSON(n protoreflect.FullName) bool {
	switch n {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.Empty",
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
		"google.protobuf.BytesValue":
		return true
	}
	return false
}

// messageCanHold: whether the JSON of md can hold path; at names md for
// the reason. Each segment names one field, so the walk is as long as the
// path (no branching, no bound needed).
func messageCanHold(md protoreflect.MessageDescriptor, path []string, at string, names fieldNames) (bool, string) {
	if len(path) == 0 || openBelow[md.FullName()] {
		return true, ""
	}
	if scalarJSON(md.FullName()) {
		return false, fmt.Sprintf("%s is a %s, printed as a JSON scalar: it has no fields", at, md.FullName())
	}
	seg := path[0]
	fd := findField(md, seg, names)
	if fd == nil {
		how := "by JSON or proto name"
		switch names {
		case nameJSON:
			how = "by JSON name (responses print JSON names; preserveProtoFieldNames prints proto names)"
		case nameProto:
			how = "by proto name (print.preserveProtoFieldNames is set)"
		}
		return false, fmt.Sprintf("%s has no field %s %s", md.FullName(), seg, how)
	}
	return fieldCanHold(fd, path[1:], at+"."+seg, names)
}

func findField(md protoreflect.MessageDescriptor, seg string, names fieldNames) protoreflect.FieldDescriptor {
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if (names != nameJSON && string(fd.Name()) == seg) || (names != nameProto && fd.JSONName() == seg) {
			return fd
		}
	}
	return nil
}

// fieldCanHold: whether the value of fd (named at) can hold rest. A map
// allows anything below (its keys are the client's); a repeated field is
// an array, indexed by number; a message descends; a scalar, enum or
// bytes ends the path.
func fieldCanHold(fd protoreflect.FieldDescriptor, rest []string, at string, names fieldNames) (bool, string) {
	if len(rest) == 0 || fd.IsMap() {
		return true, ""
	}
	if fd.IsList() {
		seg := rest[0]
		if _, err := strconv.Atoi(seg); err != nil || seg[0] == '-' || seg[0] == '+' {
			return false, fmt.Sprintf("%s is repeated (a JSON array): an array is indexed by number", at)
		}
		rest, at = rest[1:], at+"."+seg
		if len(rest) == 0 {
			return true, ""
		}
	}
	if md := fd.Message(); md != nil {
		return messageCanHold(md, rest, at, names)
	}
	return false, fmt.Sprintf("%s is %s, it has no fields (%s below it cannot exist)", at, kindName(fd), strings.Join(rest, "."))
}

func kindName(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() == protoreflect.EnumKind {
		return "an enum"
	}
	return "a " + fd.Kind().String()
}
