package translate

import (
	"errors"
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A route table holds every Route of a listener (1,000 at the scale of
// issue 10), and a policy edit usually touches one of them: marshalling
// the whole table again to hash it was most of a warm rebuild. The
// deterministic encoding of a message is its fields in field-number order
// (protobuf-go sorts its coder fields by number: internal/impl/
// codec_message.go, orderedCoderFields), a repeated message field being
// each element's tag, length and encoding in turn. So a table's encoding
// is composed here from its shell and the encodings of its Routes, which
// are made once when the Route is built and carried by Memo with it.
// TestRouteConfigEncodingMatchesMarshal holds the result to proto.Marshal
// over every golden case; any layout this does not handle (unknown fields)
// falls back to proto.Marshal.

// Field numbers of RouteConfiguration.virtual_hosts and VirtualHost.routes.
const (
	rcVirtualHostsField protowire.Number = 2
	vhRoutesField       protowire.Number = 3
)

var deterministic = proto.MarshalOptions{Deterministic: true}

// routeEncodings maps a Route proto to its deterministic encoding.
type routeEncodings map[*routev3.Route][]byte

// encodeRouteConfig appends the deterministic encoding of rc to buf,
// taking the encodings of its Routes from enc where it has them.
func encodeRouteConfig(buf []byte, rc *routev3.RouteConfiguration, enc routeEncodings) ([]byte, error) {
	if len(rc.ProtoReflect().GetUnknown()) > 0 {
		return deterministic.MarshalAppend(buf, rc)
	}
	before, after := splitAt(rc.ProtoReflect(), rcVirtualHostsField)
	buf, err := deterministic.MarshalAppend(buf, before)
	if err != nil {
		return nil, err
	}
	var vhBuf []byte
	for _, vh := range rc.GetVirtualHosts() {
		if vhBuf, err = encodeVirtualHost(vhBuf[:0], vh, enc); err != nil {
			return nil, fmt.Errorf("virtual host %s: %w", vh.GetName(), err)
		}
		buf = protowire.AppendTag(buf, rcVirtualHostsField, protowire.BytesType)
		buf = protowire.AppendBytes(buf, vhBuf)
	}
	return deterministic.MarshalAppend(buf, after)
}

func encodeVirtualHost(buf []byte, vh *routev3.VirtualHost, enc routeEncodings) ([]byte, error) {
	if len(vh.ProtoReflect().GetUnknown()) > 0 {
		return deterministic.MarshalAppend(buf, vh)
	}
	before, after := splitAt(vh.ProtoReflect(), vhRoutesField)
	buf, err := deterministic.MarshalAppend(buf, before)
	if err != nil {
		return nil, err
	}
	for _, r := range vh.GetRoutes() {
		if r == nil {
			return nil, errors.New("nil route")
		}
		e, ok := enc[r]
		if !ok {
			if e, err = deterministic.Marshal(r); err != nil {
				return nil, fmt.Errorf("route %s: %w", r.GetName(), err)
			}
		}
		buf = protowire.AppendTag(buf, vhRoutesField, protowire.BytesType)
		buf = protowire.AppendBytes(buf, e)
	}
	return deterministic.MarshalAppend(buf, after)
}

// splitAt returns two messages of m's type sharing m's values: one with
// the populated fields numbered below n, one with those above.
func splitAt(m protoreflect.Message, n protowire.Number) (before, after proto.Message) {
	b, a := m.New(), m.New()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Number() < n:
			b.Set(fd, v)
		case fd.Number() > n:
			a.Set(fd, v)
		}
		return true
	})
	return b.Interface(), a.Interface()
}

// hashRouteConfigs puts the content hash of each of g's route tables in
// g.Hashes.
func hashRouteConfigs(g *Group, enc routeEncodings) error {
	if g.Hashes == nil {
		g.Hashes = make(map[typesResource]uint64, len(g.Routes))
	}
	var buf []byte
	for _, r := range g.Routes {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			continue // Check reports it
		}
		var err error
		if buf, err = encodeRouteConfig(buf[:0], rc, enc); err != nil {
			return fmt.Errorf("hash route config %s: %w", rc.GetName(), err)
		}
		g.Hashes[rc] = ContentHash(buf)
	}
	return nil
}
