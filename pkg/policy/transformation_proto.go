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
// and path template the Route's match may reach is considered
// (reachedBindings), and a path
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
	reached := reachedBindings(r.Spec.Match, sets.get(tc))
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

// reachedBindings: the bindings some request the Route's match accepts
// may take. An exact path takes the binding the transcoder's matcher
// picks for it under each of the Route's methods (transcode.Lookup: the
// most specific); a prefix reaches every binding some path under it may
// match (Template.MayMatchPrefix); a regex reaches every binding.
// Conservative: a case-insensitive exact path is taken as a prefix, and
// header or query matches are ignored (they only narrow).
func reachedBindings(m RouteMatch, bs []transcode.Binding) []transcode.Binding {
	methodOK := func(b *transcode.Binding) bool {
		if len(m.Methods) == 0 || b.HTTPMethod == "*" {
			return true
		}
		for _, meth := range m.Methods {
			if strings.EqualFold(meth, b.HTTPMethod) {
				return true
			}
		}
		return false
	}
	pm := m.Path
	var out []transcode.Binding
	if pm.Exact != "" && !pm.CaseInsensitive {
		methods := m.Methods
		if len(methods) == 0 {
			seen := map[string]bool{}
			for i := range bs {
				if !seen[bs[i].HTTPMethod] {
					seen[bs[i].HTTPMethod] = true
					methods = append(methods, bs[i].HTTPMethod)
				}
			}
		}
		seen := map[*transcode.Binding]bool{}
		for _, meth := range methods {
			if mt := transcode.Lookup(bs, strings.ToUpper(meth), pm.Exact); mt != nil && !seen[mt.Binding] {
				seen[mt.Binding] = true
				out = append(out, *mt.Binding)
			}
		}
		return out
	}
	prefix := pm.Prefix
	if pm.Exact != "" {
		prefix = pm.Exact
	}
	for i := range bs {
		b := &bs[i]
		if methodOK(b) && (pm.Regex != "" || b.Template.MayMatchPrefix(prefix, pm.CaseInsensitive)) {
			out = append(out, *b)
		}
	}
	return out
}
