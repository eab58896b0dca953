package authz

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	_ "google.golang.org/grpc/encoding/proto" // registers the base codec
)

// ServerOption makes a gRPC server decode requests whose string fields hold
// invalid UTF-8 (Envoy forwards header and path bytes as they arrived)
// instead of failing the call: such bytes become U+FFFD and the request gets
// a decision like any other. Without it the call fails with Internal and
// Envoy applies the filter's failure mode, leaving no decision log. The
// codec is the standard proto codec otherwise, so other services on the
// same server are unaffected.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(Codec()) }

// Codec is ServerOption's codec, for a server that combines it with a
// codec wrapper of its own (the ADS port's: xds/server.RequestCodec).
func Codec() encoding.CodecV2 { return lenientCodec{} }

type lenientCodec struct{}

func (lenientCodec) base() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

func (c lenientCodec) Name() string { return c.base().Name() }

func (c lenientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base().Marshal(v) }

func (c lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base().Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok || !strings.Contains(err.Error(), "UTF-8") {
		return err
	}
	fixed, serr := sanitizeUTF8(data.Materialize(), m.ProtoReflect().Descriptor(), 0)
	if serr != nil {
		return err
	}
	proto.Reset(m)
	return proto.Unmarshal(fixed, m)
}

// sanitizeUTF8 rewrites a message's wire bytes with every string field made
// valid UTF-8, recursing into sub-messages (map entries included).
func sanitizeUTF8(b []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, protowire.ParseError(-1)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		tag := b[:n]
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			out = append(append(out, tag...), b[:m]...)
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
		case fd.Kind() == protoreflect.MessageKind:
			var err error
			if v, err = sanitizeUTF8(v, fd.Message(), depth+1); err != nil {
				return nil, err
			}
		}
		out = append(out, tag...)
		out = protowire.AppendBytes(out, v)
	}
	return out, nil
}
