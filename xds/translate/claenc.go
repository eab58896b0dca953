package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// The publisher hashes every ClusterLoadAssignment from its deterministic
// encoding: on a cold build at the scale of issue 10 (1,000 CLAs of 10
// endpoints) proto.Marshal of them was about 8 ms of CPU, mostly the
// reflective size and append passes. AppendCLA writes the same bytes for
// the fields Endpoints sets, by hand: each message's fields in field-number
// order (as the deterministic encoding writes them, see routehash.go),
// except that protobuf-go writes a oneof's field after the others; proto3
// scalars left out when zero, a set oneof written even when zero.
// Anything else set (another field, unknown fields, a nil list element)
// makes it give up, and the caller marshals. TestAppendCLAMatchesMarshal
// holds it to proto.Marshal byte for byte; TestAppendCLAKnowsEveryField
// fails when the API gains a field it neither writes nor gives up on.

// AppendCLA appends the deterministic encoding of cla to buf. ok is false
// (and buf returned unchanged) when cla sets something it does not write.
func AppendCLA(buf []byte, cla *endpointv3.ClusterLoadAssignment) (_ []byte, ok bool) {
	if cla == nil || !claEncodable(cla) {
		return buf, false
	}
	return appendCLA(buf, cla), true
}

// HashedEndpoints is Endpoints with the ContentHash of what it built,
// encoded into *buf (grown and kept for the next call). The controller
// builds the CLAs of a cold build on several goroutines and hashes them
// there, instead of the publisher hashing them again on its own: the CLA
// was just made by Endpoints, whose every field appendCLA writes, so it
// skips claEncodable's walk (half of the publisher's cost per CLA, from
// ProtoReflect on every message). TestHashedEndpointsMatchMarshal holds the
// hash to proto.Marshal's encoding.
func HashedEndpoints(edsName, localZone string, eps []registry.Endpoint, buf *[]byte) (*endpointv3.ClusterLoadAssignment, uint64) {
	cla := Endpoints(edsName, localZone, eps)
	*buf = appendCLA((*buf)[:0], cla)
	return cla, ContentHash(*buf)
}

// appendCLA writes cla, which claEncodable accepts, after buf.
func appendCLA(buf []byte, cla *endpointv3.ClusterLoadAssignment) []byte {
	if cla.ClusterName != "" {
		buf = protowire.AppendTag(buf, 1, protowire.BytesType)
		buf = protowire.AppendString(buf, cla.ClusterName)
	}
	for _, l := range cla.Endpoints {
		buf = protowire.AppendTag(buf, 2, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(sizeLocality(l)))
		buf = appendLocality(buf, l)
	}
	return buf
}

func unknown(m proto.Message) bool { return len(m.ProtoReflect().GetUnknown()) > 0 }

// claEncodable reports whether AppendCLA writes every field cla sets.
func claEncodable(cla *endpointv3.ClusterLoadAssignment) bool {
	if cla.Policy != nil || len(cla.NamedEndpoints) > 0 || unknown(cla) {
		return false
	}
	for _, l := range cla.Endpoints {
		if l == nil || l.Metadata != nil || l.LbConfig != nil || l.Proximity != nil || unknown(l) ||
			(l.Locality != nil && unknown(l.Locality)) || !u32Encodable(l.LoadBalancingWeight) {
			return false
		}
		for _, e := range l.LbEndpoints {
			if e == nil || e.Metadata != nil || unknown(e) || !u32Encodable(e.LoadBalancingWeight) {
				return false
			}
			switch h := e.HostIdentifier.(type) {
			case nil:
			case *endpointv3.LbEndpoint_Endpoint:
				if !endpointEncodable(h.Endpoint) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

func u32Encodable(w *wrapperspb.UInt32Value) bool { return w == nil || !unknown(w) }

func endpointEncodable(ep *endpointv3.Endpoint) bool {
	if ep == nil {
		return true // LbEndpoint_Endpoint{nil}: written as an empty message
	}
	if ep.HealthCheckConfig != nil || ep.Hostname != "" || len(ep.AdditionalAddresses) > 0 || ep.ObservabilityName != "" || unknown(ep) {
		return false
	}
	a := ep.Address
	if a == nil {
		return true
	}
	if unknown(a) {
		return false
	}
	switch x := a.Address.(type) {
	case nil:
		return true
	case *corev3.Address_SocketAddress:
		sa := x.SocketAddress
		if sa == nil {
			return true
		}
		if sa.ResolverName != "" || sa.Ipv4Compat || sa.NetworkNamespaceFilepath != "" || unknown(sa) {
			return false
		}
		switch sa.PortSpecifier.(type) {
		case nil, *corev3.SocketAddress_PortValue:
			return true
		}
	}
	return false
}

func claSizeString(n protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(n) + protowire.SizeBytes(len(s))
}

func claSizeVarint(n protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(n) + protowire.SizeVarint(v)
}

func claSizeSub(n protowire.Number, size int) int {
	return protowire.SizeTag(n) + protowire.SizeBytes(size)
}

func claString(buf []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return buf
	}
	buf = protowire.AppendTag(buf, n, protowire.BytesType)
	return protowire.AppendString(buf, s)
}

func claVarint(buf []byte, n protowire.Number, v uint64) []byte {
	if v == 0 {
		return buf
	}
	buf = protowire.AppendTag(buf, n, protowire.VarintType)
	return protowire.AppendVarint(buf, v)
}

func claSubHeader(buf []byte, n protowire.Number, size int) []byte {
	buf = protowire.AppendTag(buf, n, protowire.BytesType)
	return protowire.AppendVarint(buf, uint64(size))
}

func sizeU32(w *wrapperspb.UInt32Value) int { return claSizeVarint(1, uint64(w.GetValue())) }

func sizeLocalityID(l *corev3.Locality) int {
	return claSizeString(1, l.Region) + claSizeString(2, l.Zone) + claSizeString(3, l.SubZone)
}

func sizeLocality(l *endpointv3.LocalityLbEndpoints) int {
	n := 0
	if l.Locality != nil {
		n += claSizeSub(1, sizeLocalityID(l.Locality))
	}
	for _, e := range l.LbEndpoints {
		n += claSizeSub(2, sizeLbEndpoint(e))
	}
	if l.LoadBalancingWeight != nil {
		n += claSizeSub(3, sizeU32(l.LoadBalancingWeight))
	}
	return n + claSizeVarint(5, uint64(l.Priority))
}

func appendLocality(buf []byte, l *endpointv3.LocalityLbEndpoints) []byte {
	if id := l.Locality; id != nil {
		buf = claSubHeader(buf, 1, sizeLocalityID(id))
		buf = claString(buf, 1, id.Region)
		buf = claString(buf, 2, id.Zone)
		buf = claString(buf, 3, id.SubZone)
	}
	for _, e := range l.LbEndpoints {
		buf = claSubHeader(buf, 2, sizeLbEndpoint(e))
		buf = appendLbEndpoint(buf, e)
	}
	if w := l.LoadBalancingWeight; w != nil {
		buf = claSubHeader(buf, 3, sizeU32(w))
		buf = claVarint(buf, 1, uint64(w.Value))
	}
	return claVarint(buf, 5, uint64(l.Priority))
}

func sizeSocketAddress(sa *corev3.SocketAddress) int {
	n := claSizeVarint(1, uint64(sa.Protocol)) + claSizeString(2, sa.Address)
	if p, ok := sa.PortSpecifier.(*corev3.SocketAddress_PortValue); ok {
		n += protowire.SizeTag(3) + protowire.SizeVarint(uint64(p.PortValue))
	}
	return n
}

func sizeEndpoint(ep *endpointv3.Endpoint) int {
	if ep == nil || ep.Address == nil {
		return 0
	}
	a := 0
	if x, ok := ep.Address.Address.(*corev3.Address_SocketAddress); ok {
		sa := 0
		if x.SocketAddress != nil {
			sa = sizeSocketAddress(x.SocketAddress)
		}
		a = claSizeSub(1, sa)
	}
	return claSizeSub(1, a)
}

func sizeLbEndpoint(e *endpointv3.LbEndpoint) int {
	n := 0
	if h, ok := e.HostIdentifier.(*endpointv3.LbEndpoint_Endpoint); ok {
		n += claSizeSub(1, sizeEndpoint(h.Endpoint))
	}
	n += claSizeVarint(2, uint64(e.HealthStatus))
	if e.LoadBalancingWeight != nil {
		n += claSizeSub(4, sizeU32(e.LoadBalancingWeight))
	}
	return n
}

func appendLbEndpoint(buf []byte, e *endpointv3.LbEndpoint) []byte {
	// protobuf-go writes a oneof's field after the message's other
	// fields, whatever its number: host_identifier (1) comes last.
	buf = claVarint(buf, 2, uint64(e.HealthStatus))
	if w := e.LoadBalancingWeight; w != nil {
		buf = claSubHeader(buf, 4, sizeU32(w))
		buf = claVarint(buf, 1, uint64(w.Value))
	}
	h, ok := e.HostIdentifier.(*endpointv3.LbEndpoint_Endpoint)
	if !ok {
		return buf
	}
	buf = claSubHeader(buf, 1, sizeEndpoint(h.Endpoint))
	ep := h.Endpoint
	if ep == nil || ep.Address == nil {
		return buf
	}
	x, isSA := ep.Address.Address.(*corev3.Address_SocketAddress)
	if !isSA {
		return claSubHeader(buf, 1, 0)
	}
	sa := x.SocketAddress
	if sa == nil {
		buf = claSubHeader(buf, 1, claSizeSub(1, 0))
		return claSubHeader(buf, 1, 0)
	}
	size := sizeSocketAddress(sa)
	buf = claSubHeader(buf, 1, claSizeSub(1, size))
	buf = claSubHeader(buf, 1, size)
	buf = claVarint(buf, 1, uint64(sa.Protocol))
	buf = claString(buf, 2, sa.Address)
	if p, ok := sa.PortSpecifier.(*corev3.SocketAddress_PortValue); ok {
		buf = protowire.AppendTag(buf, 3, protowire.VarintType)
		buf = protowire.AppendVarint(buf, uint64(p.PortValue))
	}
	return buf
}
