package transform

import (
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"google.golang.org/protobuf/types/known/structpb"
)

// sources are the values an exchange can read: the current side's
// headers and what Envoy's metadata says about the caller. Claims and the
// consumer come only from metadata (jwt_authn's verified payloads, the
// authz service's decision), never from a header a client could send.
type sources struct {
	headers  map[string]string
	claims   []*structpb.Struct // verified JWT payloads, by provider name
	consumer string
	status   string
}

func (s *sources) value(v Value) (any, bool) {
	switch {
	case v.Literal != nil:
		return v.Literal, true
	case v.Header != "":
		h, ok := s.headers[strings.ToLower(v.Header)]
		return h, ok
	case v.Claim != "":
		for _, p := range s.claims {
			if c, ok := p.GetFields()[v.Claim]; ok {
				return c.AsInterface(), true
			}
		}
		return nil, false
	default:
		return s.consumer, s.consumer != ""
	}
}

// readMetadata takes the JWT payloads and the consumer from the metadata
// Envoy forwards (metadata_options.forwarding_namespaces).
func (s *sources) readMetadata(md map[string]*structpb.Struct) {
	if jwt := md[wire.JWTMetadataNamespace]; jwt != nil && s.claims == nil {
		names := make([]string, 0, len(jwt.GetFields()))
		for n := range jwt.GetFields() {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if p := jwt.GetFields()[n].GetStructValue(); p != nil {
				s.claims = append(s.claims, p)
			}
		}
	}
	if az := md[wire.ConsumerMetadataNamespace]; az != nil && s.consumer == "" {
		s.consumer = az.GetFields()[wire.ConsumerMetadataKey].GetStringValue()
	}
}
