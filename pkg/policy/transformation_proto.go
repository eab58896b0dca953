package policy

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/transcode"
)

// Issue 15, bad input, for Routes that transcode REST to gRPC: the proto
// messages are the schema. The filter order is the reverse of the
// OpenAPI case's (xds/translate transcoder.go: the transcoder is last
// before the router): on the way in the transformation runs first and
// the transcoder parses what it makes into the method's request message,
// so request ops' created paths (set, rename's and move's to, wrap's in)
// must be able to exist in the message the body fills; on the way back
// the transcoder prints the response message as JSON before the
// transformation sees it, so response ops' source paths (remove, rename,
// move, wrap, unwrap) must be able to exist in that JSON. Envoy answers
// 400 when the request body does not parse into the message
// (json_transcoder_filter.cc, decodeData: the request translator's
// status), and a response op reading a field the printed message cannot
// have does nothing.
//
// Conservative: every binding (method and HTTP rule) whose HTTP method
// and path template the Route's match may reach is considered, and a path
// is refused only when none of their messages can hold it
// (transcode.Binding.RequestPath, ResponsePath: JSON or proto names,
// maps and Struct/Value/ListValue/Any open below, scalars and well-known
// scalar types closed). Bindings with no request body, an HttpBody or
// streaming are not judged; if no reachable binding is judged, nothing
// is refused.

// protoBindings caches a descriptor set's bindings for a list of services
// (nil when the set does not load: reported on the Route's transcoding
// block).
type protoBindings map[string][]transcode.Binding

func (p protoBindings) get(t *Transcoding) []transcode.Binding {
	key := string(t.Descriptor) + "\x00" + strings.Join(t.Services, "\x00")
	if bs, ok := p[key]; ok {
		return bs
	}
	var all []transcode.Binding
	if set, err := transcode.Load(t.Descriptor); err == nil {
		for _, s := range t.Services {
			bs, err := set.Bindings(s)
			if err != nil {
				all = nil
				break
			}
			all = append(all, bs...)
		}
	}
	p[key] = all
	return all
}

// protoTransformationSchema checks each of ts against the messages of the
// bindings r can reach.
func protoTransformationSchema(o *objErrs, r *Route, ts []*Transformation, sets protoBindings) {
	tc := r.Spec.Transcoding
	if tc == nil || len(tc.Descriptor) == 0 {
		return
	}
	var reached []transcode.Binding
	for _, b := range sets.get(tc) {
		if routeReachesBinding(r.Spec.Match, b) {
			reached = append(reached, b)
		}
	}
	if len(reached) == 0 {
		return
	}
	protoNames := tc.Print != nil && tc.Print.PreserveProtoFieldNames
	req := &bodyCheck{
		schema: protoBodies{reached, false, protoNames},
		after:  true,
		says:   "would make a request body no method this Route transcodes to can take (%s; the transcoder parses the transformed body into the method's message)",
	}
	resp := &bodyCheck{
		schema: protoBodies{reached, true, protoNames},
		says:   "cannot be in the JSON the transcoder prints for any method this Route transcodes to (%s)",
	}
	for _, t := range ts {
		if why := transformationSchemaProblem(t, req, resp); why != "" {
			o.add(transformationField(r), "Transformation %q %s, in %s (spec.transcoding)", t.Name, why, tc.DescriptorFile)
			return
		}
	}
}

// protoBodies are the request (or response) messages of the bindings a
// Route reaches.
type protoBodies struct {
	reached    []transcode.Binding
	response   bool
	protoNames bool
}

// canExist: "" when some judged binding's message can hold segs, or none
// is judged; else the methods and the first reason.
func (p protoBodies) canExist(segs []string) string {
	why := ""
	var names []string
	seen := map[string]bool{}
	for i := range p.reached {
		b := &p.reached[i]
		var judged, ok bool
		var w string
		if p.response {
			judged, ok, w = b.ResponsePath(segs, p.protoNames)
		} else {
			judged, ok, w = b.RequestPath(segs)
		}
		if !judged {
			continue
		}
		if ok {
			return ""
		}
		if why == "" {
			why = w
		}
		if !seen[b.GRPCPath()] {
			seen[b.GRPCPath()] = true
			names = append(names, b.GRPCPath())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s", strings.Join(names, ", "), why)
}

// routeReachesBinding: whether some request the Route's match accepts may
// take binding b. Conservative: a regex reaches every binding; a
// template is compared only up to its first variable or wildcard (the
// literal prefix), and the Route's path may reach it when either is a
// prefix of the other.
func routeReachesBinding(m RouteMatch, b transcode.Binding) bool {
	if len(m.Methods) > 0 && b.HTTPMethod != "*" {
		found := false
		for _, meth := range m.Methods {
			found = found || strings.EqualFold(meth, b.HTTPMethod)
		}
		if !found {
			return false
		}
	}
	pm := m.Path
	if pm.Regex != "" {
		return true
	}
	lit := b.Template.Raw
	if i := strings.IndexAny(lit, "{*"); i >= 0 {
		lit = lit[:i]
	}
	p := pm.Exact
	if p == "" {
		p = pm.Prefix
	}
	if p == "" {
		p = "/"
	}
	if pm.CaseInsensitive {
		p, lit = strings.ToLower(p), strings.ToLower(lit)
	}
	return strings.HasPrefix(p, lit) || strings.HasPrefix(lit, p)
}
