package translate

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The walk for elements Envoy does not ship (walk, envoyapiwalk.go) asks
// protoreflect whether each field worth looking at is set (Has, then Get):
// on a cold build at the scale of issue 10 that was about 5 ms of CPU,
// most of it Has on fields that are not set. newIndex already holds the
// deterministic encoding of every Route and Envoy Cluster it builds (route
// tables and clusters are hashed from them), and an encoding lists exactly
// the fields that are set: a proto3 scalar when not zero, a field with
// presence (a oneof member, an optional, a message) when set, a list or map
// when not empty; which is what Has reports. walkEncoded reads the set
// fields from the encoding, looks each up in the same per-type plan
// (apiStatus.look, by field number), and reports exactly what walk would,
// in the same order (look's order; the entries of a map in key order, where
// walk's order is the map's). Typed configs are handed to walkAny's own
// code (decoded once per distinct config and checker, as before).
//
// It runs only for the prechecks of newIndex (precheck.go), whose errors
// are not reported: a resource that fails is checked again by Check in its
// group with the reflective walk, which names it. An encoding walkEncoded
// cannot read as protobuf-go writes it (a singular message twice, a group,
// a malformed field: never from proto.Marshal) fails the precheck, so it
// can only cost time, never let something through.
// TestWalkEncodedMatchesWalk holds it to walk over every golden resource and
// over random messages that set unshipped fields, enum values, regexes,
// CIDRs and typed configs.

// errWireLayout says an encoding is not laid out as walkEncoded reads it.
var errWireLayout = errors.New("encoding not laid out as proto.Marshal writes it")

// walkEncoded is walk over enc, the deterministic encoding of a message of
// type md. It reports false when enc cannot be read (errWireLayout).
func (c *checker) walkEncoded(md protoreflect.MessageDescriptor, enc []byte) bool {
	return c.walkWire(statusOf(md), enc)
}

// wireField is one occurrence of a field worth looking at in an encoding.
type wireField struct {
	look int // index in apiStatus.look
	typ  protowire.Type
	val  []byte // the content of a length-delimited field
	num  uint64 // the value of a varint
}

// Field numbers walkWire reads by hand (stable in the API: renumbering a
// field breaks the wire format).
const (
	anyTypeURLField      protowire.Number = 1 // google.protobuf.Any.type_url
	anyValueField        protowire.Number = 2 // google.protobuf.Any.value
	regexMatcherRegexNum protowire.Number = 2 // envoy.type.matcher.v3.RegexMatcher.regex
	cidrPrefixField      protowire.Number = 1 // envoy.config.core.v3.CidrRange.address_prefix
	mapEntryValueField   protowire.Number = 2 // the value of a map entry
)

func (c *checker) walkWire(s *apiStatus, b []byte) bool {
	if s == nil || !s.visit {
		return true
	}
	md := s.md
	if s.why != "" {
		c.failAPI("message", string(md.FullName()), s.why)
	}
	switch md.FullName() {
	case anyName:
		url, ok := lastBytes(b, anyTypeURLField)
		if !ok {
			return false
		}
		value, ok := lastBytes(b, anyValueField)
		if !ok {
			return false
		}
		c.walkAnyContent(string(url), value)
		return true
	case regexMatcherName:
		re, ok := lastBytes(b, regexMatcherRegexNum)
		if !ok {
			return false
		}
		if c.walkAtFn == nil {
			c.walkAtFn = c.walkAt
		}
		c.regex(c.walkAtFn, string(re))
	case cidrRangeName:
		p, ok := lastBytes(b, cidrPrefixField)
		if !ok {
			return false
		}
		if !envoyIP(string(p)) {
			c.fail("%s: CIDR address_prefix %q is not an IP address Envoy parses", c.walkAt(), string(p))
		}
	}
	if len(s.look) == 0 {
		return true
	}
	var stack [16]wireField
	found := stack[:0]
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 || typ == protowire.StartGroupType {
			return false
		}
		off += n
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return false
		}
		if i := s.lookAt[num]; i > 0 {
			f := wireField{look: i - 1, typ: typ}
			switch typ {
			case protowire.BytesType:
				f.val, _ = protowire.ConsumeBytes(b[off:])
			case protowire.VarintType:
				f.num, _ = protowire.ConsumeVarint(b[off:])
			}
			found = append(found, f)
		}
		off += m
	}
	for i := range s.look {
		lf := &s.look[i]
		fd := lf.fd
		seen := 0
		for _, f := range found {
			if f.look != i {
				continue
			}
			seen++
			if seen == 1 {
				if c.tracing {
					c.traceField(fd)
				}
				if lf.why != "" {
					c.failAPI("field", string(fd.FullName()), lf.why)
				}
				if lf.sub != nil {
					c.path = append(c.path, string(fd.Name()))
				}
			}
			if lf.enums != nil && !c.wireEnums(fd, f, lf.enums) {
				return false
			}
			if lf.sub == nil {
				continue
			}
			if f.typ != protowire.BytesType || (seen > 1 && !fd.IsList() && !fd.IsMap()) {
				return false
			}
			val := f.val
			if fd.IsMap() {
				v, ok := lastBytes(val, mapEntryValueField)
				if !ok {
					return false
				}
				val = v
			}
			if !c.walkWire(lf.sub, val) {
				return false
			}
		}
		if seen > 0 && lf.sub != nil {
			c.path = c.path[:len(c.path)-1]
		}
	}
	return true
}

// wireEnums checks the enum values of one occurrence of an enum field
// (packed or not), as enumValues does.
func (c *checker) wireEnums(fd protoreflect.FieldDescriptor, f wireField, bad map[protoreflect.EnumNumber]string) bool {
	check := func(v uint64) {
		// An enum is an int32 on the wire, sign-extended to 64 bits.
		n := protoreflect.EnumNumber(int32(v))
		if why := bad[n]; why != "" {
			name := string(fd.FullName())
			if ev := fd.Enum().Values().ByNumber(n); ev != nil {
				name = string(ev.FullName())
			}
			c.failAPI("enum value", name, why)
		}
	}
	switch f.typ {
	case protowire.VarintType:
		check(f.num)
	case protowire.BytesType: // packed
		for b := f.val; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			check(v)
			b = b[n:]
		}
	default:
		return false
	}
	return true
}

// lastBytes returns the content of the last occurrence of a
// length-delimited field in b (what decoding keeps), nil if absent.
func lastBytes(b []byte, want protowire.Number) ([]byte, bool) {
	var out []byte
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 || typ == protowire.StartGroupType {
			return nil, false
		}
		off += n
		if num == want {
			if typ != protowire.BytesType {
				return nil, false
			}
			v, m := protowire.ConsumeBytes(b[off:])
			if m < 0 {
				return nil, false
			}
			out = v
			off += m
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off:])
		if m < 0 {
			return nil, false
		}
		off += m
	}
	return out, true
}

// shippedEncoded is shipped over m's deterministic encoding enc
// (walkEncoded), for the prechecks; without enc, or when enc cannot be
// read, it fails the resource, which Check then checks in its group.
func (c *checker) shippedEncoded(where string, m proto.Message, enc []byte) {
	if !c.envoy {
		return
	}
	c.at, c.atRoute = where, [3]string{}
	c.walkEncodedOrFail(m, enc)
}

// shippedRouteEncoded is shippedRoute over the Route's encoding.
func (c *checker) shippedRouteEncoded(rc, vh string, m proto.Message, name string, enc []byte) {
	if !c.envoy {
		return
	}
	c.at, c.atRoute = "", [3]string{rc, vh, name}
	c.walkEncodedOrFail(m, enc)
}

func (c *checker) walkEncodedOrFail(m proto.Message, enc []byte) {
	md := m.ProtoReflect().Descriptor()
	if enc == nil || !c.walkEncoded(md, enc) {
		c.fail("%s: %s: %v", c.walkAt(), md.FullName(), errWireLayout)
	}
	c.path = c.path[:0]
}
