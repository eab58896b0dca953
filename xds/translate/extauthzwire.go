package translate

import (
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// ext_authz per-route configs are the one typed config built per Route
// (context extensions name the Route), so they are encoded directly: a
// deterministic proto.Marshal of their map costs more than the rest of the
// Route. TestExtAuthzWireMatchesProto holds this encoding to proto.Marshal.
const (
	extAuthzPerRouteURL = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"

	fieldPerRouteCheckSettings   protowire.Number = 2 // ExtAuthzPerRoute.check_settings
	fieldCheckContextExtensions  protowire.Number = 1 // CheckSettings.context_extensions
	fieldCheckDisableBodyBuffers protowire.Number = 2 // CheckSettings.disable_request_body_buffering
	fieldMapKey                  protowire.Number = 1
	fieldMapValue                protowire.Number = 2
)

// kv is one context extension.
type kv struct{ k, v string }

// extAuthzCheckAny encodes ExtAuthzPerRoute{check_settings: {context_extensions,
// disable_request_body_buffering}} as proto.Marshal with Deterministic
// does: map entries sorted by key, each with its key and value.
func extAuthzCheckAny(ext []kv, disableBody bool) *anyT {
	sort.Slice(ext, func(i, j int) bool { return ext[i].k < ext[j].k })
	n := 0
	for _, e := range ext {
		n += 2 + len(e.k) + len(e.v) + 8
	}
	cs := make([]byte, 0, n+4)
	for _, e := range ext {
		entry := protowire.SizeTag(fieldMapKey) + protowire.SizeBytes(len(e.k)) + protowire.SizeTag(fieldMapValue) + protowire.SizeBytes(len(e.v))
		cs = protowire.AppendTag(cs, fieldCheckContextExtensions, protowire.BytesType)
		cs = protowire.AppendVarint(cs, uint64(entry))
		cs = protowire.AppendTag(cs, fieldMapKey, protowire.BytesType)
		cs = protowire.AppendString(cs, e.k)
		cs = protowire.AppendTag(cs, fieldMapValue, protowire.BytesType)
		cs = protowire.AppendString(cs, e.v)
	}
	if disableBody {
		cs = protowire.AppendTag(cs, fieldCheckDisableBodyBuffers, protowire.VarintType)
		cs = protowire.AppendVarint(cs, 1)
	}
	out := make([]byte, 0, len(cs)+6)
	out = protowire.AppendTag(out, fieldPerRouteCheckSettings, protowire.BytesType)
	out = protowire.AppendBytes(out, cs)
	return &anyT{TypeUrl: extAuthzPerRouteURL, Value: out}
}
