package translate

import (
	"strings"
	"testing"

	udpaannotations "github.com/cncf/xds/go/udpa/annotations"
	xdsannotations "github.com/cncf/xds/go/xds/annotations/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protowire"
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

// TestRepeatedEnumValues: an unshipped value in a repeated enum field is
// reported by both walks, packed or not, once per occurrence. No
// repeated enum field of Envoy's API has an unshipped value today, so
// the test marks one (HealthStatusSet.statuses' DRAINING) itself.
func TestRepeatedEnumValues(t *testing.T) {
	set := &corev3.HealthStatusSet{Statuses: []corev3.HealthStatus{corev3.HealthStatus_HEALTHY, corev3.HealthStatus_DRAINING, corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_DRAINING}}
	fd := set.ProtoReflect().Descriptor().Fields().ByName("statuses")
	bad := map[protoreflect.EnumNumber]string{protoreflect.EnumNumber(corev3.HealthStatus_DRAINING): "marked by the test"}
	const want = "enum value envoy.config.core.v3.DRAINING is marked by the test"
	failures := func(c *checker) int {
		for _, err := range c.errs {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("unexpected report: %v", err)
			}
		}
		return c.failures
	}

	c := &checker{envoy: true}
	c.enumValues(fd, set.ProtoReflect().Get(fd), bad)
	if n := failures(c); n != 2 {
		t.Errorf("reflective walk: %d reports, want 2 (one per DRAINING)", n)
	}

	var packed []byte
	for _, s := range set.Statuses {
		packed = protowire.AppendVarint(packed, uint64(s))
	}
	c = &checker{envoy: true}
	if !c.wireEnums(fd, wireField{typ: protowire.BytesType, val: packed}, bad) {
		t.Fatal("packed values: the walk gave up")
	}
	if n := failures(c); n != 2 {
		t.Errorf("packed: %d reports, want 2", n)
	}
	c = &checker{envoy: true}
	if !c.wireEnums(fd, wireField{typ: protowire.VarintType, num: uint64(corev3.HealthStatus_DRAINING)}, bad) || failures(c) != 1 {
		t.Errorf("one unpacked value: %d reports, want 1", c.failures)
	}
	c = &checker{envoy: true}
	if c.wireEnums(fd, wireField{typ: protowire.BytesType, val: []byte{0x80}}, bad) {
		t.Error("a truncated packed varint: want the walk to give up")
	}
	if c.wireEnums(fd, wireField{typ: protowire.Fixed32Type}, bad) {
		t.Error("an enum as fixed32: want the walk to give up")
	}
}
