package authz

import (
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// useDetectedClient makes attributes.source.address the client address
// the Gateway detected (clientIP: trusted X-Forwarded-For hops or a
// trusted header), so that a Rego policy reading input.attributes.source
// sees the same client as sourceCIDRs, remote_address rate limits and the
// access log. Envoy fills source from the connection's remote address
// (source/extensions/filters/common/ext_authz/check_request_utils.cc,
// setAttrContextPeer), which is the nearest proxy behind a load balancer.
//
// Only a route of a Gateway with clientIP says so (wire.CtxClientIPHeader,
// set by the translator, never by a client); that Gateway's first HTTP
// filter removes any client-sent wire.ClientIPHeader and sets it to the
// detected address. A value that is not an IP address leaves the
// connection's address (it cannot come from Envoy, whose formatter prints
// an IP). The port is the connection's: the detected address has none.
func useDetectedClient(req *authv3.CheckRequest) {
	attrs := req.GetAttributes()
	if attrs.GetContextExtensions()[wire.CtxClientIPHeader] != "true" {
		return
	}
	addr, err := netip.ParseAddr(headerValue(attrs.GetRequest().GetHttp(), wire.ClientIPHeader))
	if err != nil || addr.Zone() != "" {
		return
	}
	src := &authv3.AttributeContext_Peer{}
	if old := attrs.GetSource(); old != nil {
		src.Service, src.Labels, src.Principal, src.Certificate = old.GetService(), old.GetLabels(), old.GetPrincipal(), old.GetCertificate()
	}
	src.Address = &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       addr.String(),
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: attrs.GetSource().GetAddress().GetSocketAddress().GetPortValue()},
	}}}
	attrs.Source = src
}
