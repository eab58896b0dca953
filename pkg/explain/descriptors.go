package explain

import (
	"fmt"
	"net/netip"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Descriptor is one rate-limit descriptor Envoy builds for the request.
type Descriptor struct {
	// From is where its actions are: "route" or "virtual host".
	From    string  `json:"from"`
	Entries []Entry `json:"entries"`
	// Sent: "yes"; "no: ..." when an action fails (Envoy then leaves the
	// descriptor out); "only if ...: ..." when that depends on something
	// not known offline.
	Sent string `json:"sent"`
	// Limit is the policy limit the descriptor counts against, when its
	// entries name one ("RateLimit/x limit #0: 100 per minute").
	Limit string `json:"limit,omitempty"`
}

// Entry is one descriptor entry. Known is false when its value cannot be
// computed offline; Value then says what it would be.
type Entry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Known bool   `json:"known"`
}

// facts is what descriptor actions read besides headers: what the
// request's earlier filters leave in dynamic metadata, and the peer.
type facts struct {
	// headers after the header_mutation filter; unknownHeaders holds
	// the names whose value depends on something not modelled.
	headers        *httpRequest
	unknownHeaders map[string]bool
	clientIP       string
	consumer       string
	// extAuthz: the route calls ext_authz, which sets the consumer in
	// dynamic metadata; jwt: the providers jwt_authn verifies on the
	// route, whose payloads it writes there.
	extAuthz bool
	jwt      map[string]bool
	// edgeShadow: the edge RBAC's shadow metadata (edge.go), known when
	// the client address is.
	edgeShadow      map[string]string
	edgeShadowKnown bool
}

// populate builds one descriptor from a rate-limit entry's actions,
// following RateLimitPolicyEntryImpl::populateDescriptors and each action's
// populateDescriptor (Envoy: source/common/router/router_ratelimit.cc): the
// first action that fails leaves the whole descriptor out.
func (f *facts) populate(from string, actions []*routev3.RateLimit_Action, re regexes) (Descriptor, error) {
	d := Descriptor{From: from, Sent: "yes"}
	var depends []string
	add := func(k, v string, known bool) { d.Entries = append(d.Entries, Entry{Key: k, Value: v, Known: known}) }
	fail := func(why string) (Descriptor, error) {
		d.Sent = "no: " + why
		return d, nil
	}
	for _, a := range actions {
		switch s := a.GetActionSpecifier().(type) {
		case *routev3.RateLimit_Action_GenericKey_:
			k := s.GenericKey.GetDescriptorKey()
			if k == "" {
				k = "generic_key"
			}
			add(k, s.GenericKey.GetDescriptorValue(), true)
		case *routev3.RateLimit_Action_RequestHeaders_:
			// RequestHeadersAction: the first value; an absent header
			// fails the descriptor unless skip_if_absent.
			rh := s.RequestHeaders
			name := strings.ToLower(rh.GetHeaderName())
			vs := f.headers.headers[name]
			switch {
			case f.unknownHeaders[name]:
				add(rh.GetDescriptorKey(), "(header "+name+", set by a filter from request data not modelled)", false)
			case len(vs) == 0 && rh.GetSkipIfAbsent():
			case len(vs) == 0:
				return fail("header " + name + " is absent")
			default:
				add(rh.GetDescriptorKey(), vs[0], true)
			}
		case *routev3.RateLimit_Action_RemoteAddress_:
			if f.clientIP == "" {
				add("remote_address", "(the client's address: pass --client-ip)", false)
			} else {
				add("remote_address", netip.MustParseAddr(f.clientIP).String(), true)
			}
		case *routev3.RateLimit_Action_MaskedRemoteAddress_:
			// MaskedRemoteAddressAction: the masked address as a CIDR;
			// masks default to 32 and 128.
			m := s.MaskedRemoteAddress
			if f.clientIP == "" {
				add(wire.DescMaskedRemoteAddress, "(the client's address, masked: pass --client-ip)", false)
				break
			}
			addr := netip.MustParseAddr(f.clientIP)
			bits := 32
			if m.GetV4PrefixMaskLen() != nil {
				bits = int(m.GetV4PrefixMaskLen().GetValue())
			}
			if addr.Is6() {
				bits = 128
				if m.GetV6PrefixMaskLen() != nil {
					bits = int(m.GetV6PrefixMaskLen().GetValue())
				}
			}
			add(wire.DescMaskedRemoteAddress, netip.PrefixFrom(addr, bits).Masked().String(), true)
		case *routev3.RateLimit_Action_HeaderValueMatch_:
			// HeaderValueMatchAction: an entry when the headers' match
			// equals expect_match (default true), else no descriptor.
			hv := s.HeaderValueMatch
			expect := hv.GetExpectMatch() == nil || hv.GetExpectMatch().GetValue()
			matched := true
			for _, h := range hv.GetHeaders() {
				ok, _, err := headerMatch(h, f.headers, re)
				if err != nil {
					return d, err
				}
				matched = matched && ok
			}
			if matched != expect {
				return fail(fmt.Sprintf("its header condition (%s) does not hold", describeHeaders(hv.GetHeaders(), expect)))
			}
			k := hv.GetDescriptorKey()
			if k == "" {
				k = "header_match"
			}
			add(k, hv.GetDescriptorValue(), true)
		case *routev3.RateLimit_Action_Metadata:
			v, known, why := f.metadata(s.Metadata)
			m := s.Metadata
			switch {
			case why != "": // absent for sure
				if m.GetDefaultValue() != "" {
					add(m.GetDescriptorKey(), m.GetDefaultValue(), true)
				} else if !m.GetSkipIfAbsent() {
					return fail(why)
				}
			case known:
				add(m.GetDescriptorKey(), v, true)
			default:
				add(m.GetDescriptorKey(), v, false)
				if m.GetDefaultValue() == "" && !m.GetSkipIfAbsent() {
					depends = append(depends, v)
				}
			}
		default:
			add(fmt.Sprintf("(%T)", s), "(action not modelled)", false)
		}
	}
	if len(depends) > 0 {
		d.Sent = "only if present: " + strings.Join(depends, "; ")
	}
	return d, nil
}

func describeHeaders(hs []*routev3.HeaderMatcher, expect bool) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = strings.ToLower(h.GetName()) + " " + describeHeaderMatcher(h)
	}
	s := strings.Join(parts, " and ")
	if !expect {
		return "not (" + s + ")"
	}
	return s
}

// metadata resolves a dynamic-metadata action (MetaDataAction: the string
// value, else default_value, else the descriptor fails unless
// skip_if_absent). It returns the value and whether it is known; or why
// the value is certainly absent (why != "").
func (f *facts) metadata(m *routev3.RateLimit_Action_MetaData) (value string, known bool, why string) {
	if m.GetSource() != routev3.RateLimit_Action_MetaData_DYNAMIC {
		return "(route metadata: not modelled)", false, ""
	}
	ns := m.GetMetadataKey().GetKey()
	var path []string
	for _, s := range m.GetMetadataKey().GetPath() {
		path = append(path, s.GetKey())
	}
	switch {
	case ns == wire.ConsumerMetadataNamespace && len(path) == 1 && path[0] == wire.ConsumerMetadataKey:
		switch {
		case !f.extAuthz:
			return "", false, "no consumer: the route makes no ext_authz call"
		case f.consumer != "":
			return f.consumer, true, ""
		}
		return "(the consumer the authz service identifies: pass --consumer)", false, ""
	case ns == wire.JWTMetadataNamespace && len(path) == 2:
		if !f.jwt[path[0]] {
			return "", false, fmt.Sprintf("no claim %s: jwt_authn verifies no token of %s on this route", path[1], path[0])
		}
		return fmt.Sprintf("(claim %s of a token verified by %s: not known offline)", path[1], path[0]), false, ""
	}
	return fmt.Sprintf("(dynamic metadata %s/%s: not modelled)", ns, strings.Join(path, "/")), false, ""
}
