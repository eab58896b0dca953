package translate

import (
	"testing"

	udpaannotations "github.com/cncf/xds/go/udpa/annotations"
	xdsannotations "github.com/cncf/xds/go/xds/annotations/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestAPIStatusVisitsEveryMark: every registered message with a mark of
// its own (message, field or enum value) is visited by Check's walk, so
// a config setting that mark anywhere is refused.
func TestAPIStatusVisitsEveryMark(t *testing.T) {
	marked, fieldsOnly, enumsOnly := 0, 0, 0
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		md := mt.Descriptor()
		s := localStatus(md)
		if s.why == "" && s.fields == nil && s.enums == nil {
			return true
		}
		marked++
		if s.why == "" && s.enums == nil {
			fieldsOnly++
		}
		if s.why == "" && s.fields == nil {
			enumsOnly++
		}
		if !s.visit {
			t.Errorf("%s has marks (why %q, fields %v, enums %v) but is not visited", md.FullName(), s.why, s.fields, s.enums)
		}
		return true
	})
	if marked < 10 || fieldsOnly == 0 || enumsOnly == 0 {
		t.Fatalf("%d marked messages (%d with field marks only, %d with enum marks only): too few to test", marked, fieldsOnly, enumsOnly)
	}
}

// wipFile builds a file descriptor holding one message with one field,
// with the given options, outside every registry.
func wipFile(t *testing.T, name string, fo *descriptorpb.FileOptions, mo *descriptorpb.MessageOptions, fdo *descriptorpb.FieldOptions) protoreflect.MessageDescriptor {
	t.Helper()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String(name + ".proto"),
		Package: proto.String("gatehouse.test." + name),
		Syntax:  proto.String("proto3"),
		Options: fo,
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:    proto.String("M"),
			Options: mo,
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("f"), Number: proto.Int32(1), JsonName: proto.String("f"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Options: fdo,
			}},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

// TestAPIStatusReadsWorkInProgress: a message is work in progress by its
// file's udpa status, its file's xds status or its own xds status, each
// alone; a field by its own xds status. None of Envoy's messages linked
// here is marked at the message level alone, so the descriptors are made
// for the test.
func TestAPIStatusReadsWorkInProgress(t *testing.T) {
	withExt := func(m proto.Message, xt protoreflect.ExtensionType, v proto.Message) proto.Message {
		proto.SetExtension(m, xt, v)
		return m
	}
	for name, tc := range map[string]struct {
		fo      *descriptorpb.FileOptions
		mo      *descriptorpb.MessageOptions
		fdo     *descriptorpb.FieldOptions
		msg     bool
		field   bool
		visited bool
	}{
		"plain": {fo: &descriptorpb.FileOptions{}, mo: &descriptorpb.MessageOptions{}, fdo: &descriptorpb.FieldOptions{}},
		"udpa file status": {fo: withExt(&descriptorpb.FileOptions{}, udpaannotations.E_FileStatus, &udpaannotations.StatusAnnotation{WorkInProgress: true}).(*descriptorpb.FileOptions),
			msg: true, visited: true},
		"xds file status": {fo: withExt(&descriptorpb.FileOptions{}, xdsannotations.E_FileStatus, &xdsannotations.FileStatusAnnotation{WorkInProgress: true}).(*descriptorpb.FileOptions),
			msg: true, visited: true},
		"xds message status": {mo: withExt(&descriptorpb.MessageOptions{}, xdsannotations.E_MessageStatus, &xdsannotations.MessageStatusAnnotation{WorkInProgress: true}).(*descriptorpb.MessageOptions),
			msg: true, visited: true},
		"xds field status": {fdo: withExt(&descriptorpb.FieldOptions{}, xdsannotations.E_FieldStatus, &xdsannotations.FieldStatusAnnotation{WorkInProgress: true}).(*descriptorpb.FieldOptions),
			field: true, visited: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := localStatus(wipFile(t, "wip", tc.fo, tc.mo, tc.fdo))
			if got := s.why == "work in progress"; got != tc.msg {
				t.Errorf("message why %q, want work in progress %v", s.why, tc.msg)
			}
			if got := s.fields[1] == "work in progress"; got != tc.field {
				t.Errorf("field marks %v, want work in progress %v", s.fields, tc.field)
			}
			if s.visit != tc.visited {
				t.Errorf("visit %v, want %v", s.visit, tc.visited)
			}
		})
	}
}
