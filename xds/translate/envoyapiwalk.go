package translate

import (
	"errors"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// shipped reports every element Envoy does not ship (see envoyapi.go) set
// anywhere in m, a resource of an Envoy group, typed configs included.
// Proxyless gRPC groups are not walked: grpc-go implements some of those
// elements (certificate provider instances, system root certs) and does
// not read the rest.
func (c *checker) shipped(where string, m proto.Message) {
	if !c.envoy {
		return
	}
	c.at, c.atRoute = where, [3]string{}
	c.walk(m.ProtoReflect())
	c.path = c.path[:0]
}

// Shipped reports every element of m that Envoy does not ship, found by
// the walk Check runs over each resource of an Envoy group (typed configs
// included, the same exceptions). It is for config gatehouse gives Envoy
// outside xDS, which Check never sees: the bootstrap (package envoy's
// tests walk it). where names m in the errors.
func Shipped(where string, m proto.Message) error {
	c := &checker{envoy: true}
	c.shipped(where, m)
	return errors.Join(c.errs...)
}

// shippedRoute is shipped for one Route, naming it only on failure (it
// runs for every route of every table).
func (c *checker) shippedRoute(rc, vh string, r *routev3.Route) {
	if !c.envoy {
		return
	}
	c.at, c.atRoute = "", [3]string{rc, vh, r.GetName()}
	c.walk(r.ProtoReflect())
	c.path = c.path[:0]
}

// walk visits the populated fields of m that can hold something to report.
func (c *checker) walk(m protoreflect.Message) {
	md := m.Descriptor()
	s := statusOf(md)
	if s == nil || !s.visit {
		return
	}
	if s.why != "" {
		c.failAPI("message", string(md.FullName()), s.why)
	}
	switch md.FullName() {
	case anyName:
		c.walkAny(m)
		return
	case regexMatcherName:
		if c.walkAtFn == nil {
			c.walkAtFn = c.walkAt
		}
		c.regex(c.walkAtFn, m.Get(md.Fields().ByName("regex")).String())
	case cidrRangeName:
		if p := m.Get(md.Fields().ByName("address_prefix")).String(); !envoyIP(p) {
			c.fail("%s: CIDR address_prefix %q is not an IP address Envoy parses", c.walkAt(), p)
		}
	}
	for i := range s.look {
		lf := &s.look[i]
		fd := lf.fd
		if !m.Has(fd) {
			continue
		}
		if c.tracing {
			c.traceField(fd)
		}
		v := m.Get(fd)
		if lf.why != "" {
			c.failAPI("field", string(fd.FullName()), lf.why)
		}
		if lf.enums != nil {
			c.enumValues(fd, v, lf.enums)
		}
		if lf.sub == nil {
			continue
		}
		c.path = append(c.path, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.walk(l.Get(i).Message())
			}
		case fd.IsMap():
			if c.walkMapValue == nil { // one closure per Check, not per map
				c.walkMapValue = func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					c.walk(mv.Message())
					return true
				}
			}
			v.Map().Range(c.walkMapValue)
		default:
			c.walk(v.Message())
		}
		c.path = c.path[:len(c.path)-1]
	}
}

func (c *checker) enumValues(fd protoreflect.FieldDescriptor, v protoreflect.Value, bad map[protoreflect.EnumNumber]string) {
	check := func(n protoreflect.EnumNumber) {
		if why := bad[n]; why != "" {
			name := string(fd.FullName())
			if ev := fd.Enum().Values().ByNumber(n); ev != nil {
				name = string(ev.FullName())
			}
			c.failAPI("enum value", name, why)
		}
	}
	if fd.IsList() {
		for i := 0; i < v.List().Len(); i++ {
			check(v.List().Get(i).Enum())
		}
		return
	}
	check(v.Enum())
}

// walkAny checks a typed config's extension status, then walks its
// content; each distinct config is walked once per Check.
func (c *checker) walkAny(m protoreflect.Message) {
	fs := m.Descriptor().Fields()
	c.walkAnyContent(m.Get(fs.ByName("type_url")).String(), m.Get(fs.ByName("value")).Bytes())
}

// walkAnyContent is walkAny given the Any's type URL and value.
func (c *checker) walkAnyContent(url string, value []byte) {
	if c.anysWalked[url] != nil {
		if _, done := c.anysWalked[url][string(value)]; done {
			return
		}
	} else {
		if c.anysWalked == nil {
			c.anysWalked = map[string]map[string]struct{}{}
		}
		c.anysWalked[url] = map[string]struct{}{}
	}
	c.anysWalked[url][string(value)] = struct{}{}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if err != nil {
		c.failAPI("typed config", url, "not a registered type")
		return
	}
	name := mt.Descriptor().FullName()
	switch status, ok := extensionStatus[name]; {
	case !ok:
		c.failAPI("typed config", string(name), "of no known Envoy extension status (add it to extensionStatus from Envoy's extensions_metadata.yaml)")
	case status != "stable" && status != "core":
		c.failAPI("typed config", string(name), status)
	}
	inner := mt.New()
	if err := proto.Unmarshal(value, inner.Interface()); err != nil {
		c.failAPI("typed config", string(name), "undecodable ("+err.Error()+")")
		return
	}
	c.path = append(c.path, "["+string(name)+"]")
	c.walk(inner)
	c.path = c.path[:len(c.path)-1]
}

// walkAt is the location of the element being walked.
func (c *checker) walkAt() string {
	at := c.at
	if at == "" {
		at = c.routeAt()
	}
	if len(c.path) > 0 {
		at += " at " + strings.Join(c.path, ".")
	}
	return at
}

// failAPI reports one element, with its location, unless it is one of the
// deliberate exceptions.
func (c *checker) failAPI(kind, name, why string) {
	if unshippedExceptions[name] != "" {
		return
	}
	c.fail("%s: %s %s is %s in Envoy (API of %s)", c.walkAt(), kind, name, why, envoyAPISource)
}

// traceField records a field the walk found set (checker.tracing).
func (c *checker) traceField(fd protoreflect.FieldDescriptor) {
	c.trace = append(c.trace, strings.Join(c.path, ".")+"/"+string(fd.FullName()))
}
