package server

import (
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// State-of-the-world requests read without decoding unchanged names
// (issue 10).
//
// Every state-of-the-world ACK names every resource the stream subscribes
// to: an Envoy's EDS ACK lists its 1,000 CLAs, so one endpoint change made
// 1,000 Envoys send a million names, which gRPC's codec decoded into a
// million strings. A CPU profile of that change put 40% of the server's
// CPU in decoding those names (and the floor, a bare grpc-go server,
// spends half of its own there) and another 20% in checking them against
// the stream's subscription.
//
// requestReader decodes a stream's requests itself: all but
// resource_names with proto.Unmarshal, and resource_names only when their
// bytes differ from those of the stream's previous request of the type.
// When they are the same, the request gets the names that request ended
// up with (after sotwConn.request, the group snapshot's own list when the
// names are exactly the snapshot's), the same slice, so that
// sotwSub.unchanged recognises it without looking at a name.
//
// The bytes reach it through RequestCodec, which hands a rawRequest the
// gRPC receive buffer in place of decoding it; on a server with another
// codec, a rawRequest is decoded as an Empty (every field unknown, kept
// as bytes) and the reader decodes those, at the cost of one more copy.
//
// The names' bytes are compared by length and a 64-bit maphash under a
// per-process seed the client does not know, as subNames compares name
// sets: a client cannot choose a request whose names collide with its
// previous one's.
type requestReader struct {
	mu   sync.Mutex
	last map[string]rawNames // by type URL
}

// rawNames are the names a request of a type ended up with, and the size
// and hash of the resource_names bytes they were decoded from.
type rawNames struct {
	n     int
	sum   uint64
	names []string
}

var rawNameSeed = maphash.MakeSeed()

// namesDecoded counts the requests whose resource_names were decoded (the
// others reused their stream's previous names); for tests.
var namesDecoded atomic.Int64

// recv reads and decodes st's next request.
func (r *requestReader) recv(st grpc.ServerStream) (*discoveryv3.DiscoveryRequest, error) {
	m := &rawRequest{reader: r}
	if err := st.RecvMsg(m); err != nil {
		return nil, err
	}
	if m.decoded {
		return m.req, nil
	}
	req, err := r.decode(m.Empty.ProtoReflect().GetUnknown())
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return req, nil
}

// rawRequest receives a DiscoveryRequest for a requestReader: RequestCodec
// has the reader decode the receive buffer into req; any other codec
// decodes into the Empty, whose unknown fields are then the request's
// bytes.
type rawRequest struct {
	emptypb.Empty
	reader  *requestReader
	req     *discoveryv3.DiscoveryRequest
	decoded bool
}

// RequestCodec returns base with one addition: the state-of-the-world ADS
// requests gatehouse reads (sotwrecv.go) are decoded from gRPC's receive
// buffer by the stream's reader instead of by base, so that names repeated
// from the stream's previous request are not decoded again. Everything
// else goes to base. GRPCServerOptions installs it over the standard
// proto codec; a server that forces a codec of its own (pkg/authz's) wraps
// that one.
func RequestCodec(base encoding.CodecV2) encoding.CodecV2 { return requestCodec{base} }

type requestCodec struct{ base encoding.CodecV2 }

func (c requestCodec) Name() string { return c.base.Name() }

func (c requestCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawRequest)
	if !ok || m.reader == nil {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	// decode keeps nothing of buf: proto.Unmarshal and decodeNames copy
	// what they keep, and the reader remembers only a hash of the names.
	req, err := m.reader.decode(buf.ReadOnlyData())
	if err != nil {
		return err // grpc-go reports it as the stock codec's failure
	}
	m.req, m.decoded = req, true
	return nil
}

// errUnusual: a request's resource_names entries are not one run of
// length-delimited fields (other fields between them, or another wire
// type, which proto.Unmarshal keeps as unknown); such a request is decoded
// whole.
var errUnusual = errors.New("resource_names not one run of strings")

// decode decodes b, a DiscoveryRequest's encoding, as proto.Unmarshal
// does, but for resource_names when they are the bytes of the previous
// request of the same type.
func (r *requestReader) decode(b []byte) (*discoveryv3.DiscoveryRequest, error) {
	start, end, err := namesSpan(b)
	if err != nil {
		return r.decodeWhole(b)
	}
	req := &discoveryv3.DiscoveryRequest{}
	rest := b
	switch {
	case start == end:
	case start == 0:
		rest = b[end:]
	case end == len(b):
		rest = b[:start]
	default:
		rest = append(append(make([]byte, 0, len(b)-(end-start)), b[:start]...), b[end:]...)
	}
	if err := proto.Unmarshal(rest, req); err != nil {
		return nil, err
	}
	if start == end {
		r.remember(req.GetTypeUrl(), rawNames{})
		return req, nil
	}
	span := b[start:end]
	sum := maphash.Bytes(rawNameSeed, span)
	r.mu.Lock()
	prev, ok := r.last[req.GetTypeUrl()]
	r.mu.Unlock()
	if ok && prev.n == len(span) && prev.sum == sum {
		req.ResourceNames = prev.names
		return req, nil
	}
	names, ok := decodeNames(span)
	if !ok {
		return r.decodeWhole(b) // invalid UTF-8: the stock error
	}
	req.ResourceNames = names
	r.remember(req.GetTypeUrl(), rawNames{n: len(span), sum: sum, names: names})
	return req, nil
}

// decodeWhole decodes b with proto.Unmarshal alone, as a stock server
// does (malformed, unusual or invalid requests fail with its error), and
// forgets the type's names.
func (r *requestReader) decodeWhole(b []byte) (*discoveryv3.DiscoveryRequest, error) {
	req := &discoveryv3.DiscoveryRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, err
	}
	r.forget(req.GetTypeUrl())
	return req, nil
}

// kept tells the reader that the request of typeURL it decoded with names
// went on with kept instead (the snapshot's list: sotwConn.request), so
// that later requests with the same bytes get kept and the decoded copy is
// not held.
func (r *requestReader) kept(typeURL string, names, kept []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.last[typeURL]; ok && sameSlice(l.names, names) {
		l.names = kept
		r.last[typeURL] = l
	}
}

func (r *requestReader) remember(typeURL string, n rawNames) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = make(map[string]rawNames, numTypes)
	}
	r.last[typeURL] = n
}

func (r *requestReader) forget(typeURL string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, typeURL)
}

// sameSlice reports whether a and b are the same slice (same array, same
// length), not merely equal.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// namesSpan returns where b's resource_names entries (field 3) are: one
// run b[start:end], or start == end when there are none. An error says b
// is malformed or has other fields between the entries.
func namesSpan(b []byte) (start, end int, err error) {
	const namesField = 3
	start, end = -1, -1
	for off := 0; off < len(b); {
		// The common case first: a name (tag 0x1a: field 3, bytes) shorter
		// than 128 bytes (a one-byte length), following the previous one.
		// An ACK is a thousand of them; the generic parse below took a
		// tenth of the server's CPU per change at 1,000 Envoys.
		if b[off] == 3<<3|2 && off+1 < len(b) && b[off+1] < 0x80 && (start < 0 || end == off) {
			next := off + 2 + int(b[off+1])
			if next > len(b) {
				return 0, 0, protowire.ParseError(-1)
			}
			if start < 0 {
				start = off
			}
			end, off = next, next
			continue
		}
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return 0, 0, protowire.ParseError(m)
		}
		if num == namesField {
			if typ != protowire.BytesType {
				return 0, 0, errUnusual
			}
			switch {
			case start < 0:
				start = off
			case end != off:
				return 0, 0, errUnusual
			}
			end = off + n + m
		}
		off += n + m
	}
	if start < 0 {
		return 0, 0, nil
	}
	return start, end, nil
}

// decodeNames decodes a run of resource_names entries (namesSpan's: each
// a length-delimited field 3); false if one is not valid UTF-8, which
// proto.Unmarshal refuses.
func decodeNames(b []byte) ([]string, bool) {
	namesDecoded.Add(1)
	count := 0
	for off := 0; off < len(b); count++ {
		_, _, n := protowire.ConsumeField(b[off:])
		if n < 0 {
			return nil, false // (malformed: not from namesSpan)
		}
		off += n
	}
	names := make([]string, 0, count)
	for len(b) > 0 {
		_, _, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false // (malformed: not from namesSpan)
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 || !utf8.Valid(v) {
			return nil, false
		}
		b = b[n+m:]
		names = append(names, string(v))
	}
	return names, true
}
