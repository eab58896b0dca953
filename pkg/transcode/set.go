// Package transcode reads the proto descriptor sets that REST-to-gRPC
// transcoding (Envoy's grpc_json_transcoder) is configured with: it
// checks them as Envoy does when it loads the filter, lists each
// service's google.api.http bindings, and tells which gRPC method a REST
// request (method and path) maps to. pkg/policy validates a Route's
// transcoding block with it, xds/translate's Check holds the emitted
// filter to the same rules, and pkg/explain shows the mapping.
package transcode

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Set is a parsed, linked descriptor set.
type Set struct {
	files *protoregistry.Files
	// Names are the set's file names, in order.
	Names []string
}

// Load parses a serialized FileDescriptorSet and links its files in the
// order given, each against the files before it. Envoy builds its
// descriptor pool the same way, from nothing but the set: a file whose
// import is missing or comes later, a duplicate file, or a file that does
// not link is refused at load ("transcoding_filter: Unable to build proto
// descriptor pool"; Envoy source/extensions/filters/http/
// grpc_json_transcoder/filter_config.cc, JsonTranscoderConfig and
// addFileDescriptor).
func Load(data []byte) (*Set, error) {
	fds := &descriptorpb.FileDescriptorSet{}
	// The global resolver knows google.api.http (imported above), so the
	// method options carry the rule as an extension, not unknown bytes.
	if err := proto.Unmarshal(data, fds); err != nil {
		return nil, fmt.Errorf("not a serialized FileDescriptorSet (build it with protoc --include_imports --descriptor_set_out): %w", err)
	}
	if len(fds.GetFile()) == 0 {
		return nil, errors.New("the descriptor set holds no files")
	}
	s := &Set{files: &protoregistry.Files{}}
	for _, f := range fds.GetFile() {
		name := f.GetName()
		if _, err := s.files.FindFileByPath(name); err == nil {
			return nil, fmt.Errorf("file %s is in the set twice", name)
		}
		for _, dep := range f.GetDependency() {
			if _, err := s.files.FindFileByPath(dep); err != nil {
				return nil, fmt.Errorf("file %s imports %s, which is not earlier in the set (build it with protoc --include_imports)", name, dep)
			}
		}
		fd, err := protodesc.NewFile(f, s.files)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", name, err)
		}
		if err := s.files.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("file %s: %w", name, err)
		}
		s.Names = append(s.Names, name)
	}
	return s, nil
}

// A Binding is one REST mapping of a gRPC method: an HTTP method and a
// path template, and where the request body goes.
type Binding struct {
	// Service is the service's full name, Method the method's name.
	Service, Method string
	// HTTPMethod is GET, PUT, POST, DELETE, PATCH or a custom kind ("*":
	// any method).
	HTTPMethod string
	Template   *Template
	// Body is the request field the body fills ("*": the whole message
	// less what the path binds; "": no body).
	Body string
	// ResponseBody is the response field sent as the body ("": all).
	ResponseBody string

	input  protoreflect.MessageDescriptor
	method protoreflect.MethodDescriptor
}

// GRPCPath is the path of the gRPC call: /package.Service/Method.
func (b *Binding) GRPCPath() string { return "/" + b.Service + "/" + b.Method }

// String is "GET /v1/{name=shelves/*} -> /pkg.Svc/Method".
func (b *Binding) String() string {
	return b.HTTPMethod + " " + b.Template.Raw + " -> " + b.GRPCPath()
}

// ErrNoBindings is returned for a service none of whose methods has a
// google.api.http annotation.
var ErrNoBindings = errors.New("no method has a google.api.http annotation")

// Bindings lists the REST bindings of a service's methods (each method's
// rule and its additional_bindings), checked as Envoy checks them when it
// registers them: the service exists, every template parses, the body
// and response_body fields resolve and a response_body is a
// google.api.HttpBody (Envoy: filter_config.cc, createMethodInfo and
// PathMatcherUtility::RegisterByHttpRule). Variables must name fields of
// the request message, or every request would fail. A service with no
// annotated method returns ErrNoBindings (wrapped).
func (s *Set) Bindings(service string) ([]Binding, error) {
	d, err := s.files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("service %s is not in the descriptor set (files: %s)", service, strings.Join(s.Names, ", "))
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", service)
	}
	var out []Binding
	ms := sd.Methods()
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		opts, _ := m.Options().(*descriptorpb.MethodOptions)
		if opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
			continue
		}
		rule, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		rules := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
		for j, r := range rules {
			if j > 0 && len(r.GetAdditionalBindings()) > 0 {
				return nil, fmt.Errorf("method %s: additional_bindings may not nest", m.FullName())
			}
			b, err := binding(sd, m, r)
			if err != nil {
				return nil, fmt.Errorf("method %s: %w", m.FullName(), err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s: %w (the transcoder would map no REST request to it)", service, ErrNoBindings)
	}
	return out, nil
}

func binding(sd protoreflect.ServiceDescriptor, m protoreflect.MethodDescriptor, r *annotations.HttpRule) (Binding, error) {
	b := Binding{Service: string(sd.FullName()), Method: string(m.Name()), Body: r.GetBody(), ResponseBody: r.GetResponseBody(), input: m.Input(), method: m}
	var path string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		b.HTTPMethod, path = "GET", p.Get
	case *annotations.HttpRule_Put:
		b.HTTPMethod, path = "PUT", p.Put
	case *annotations.HttpRule_Post:
		b.HTTPMethod, path = "POST", p.Post
	case *annotations.HttpRule_Delete:
		b.HTTPMethod, path = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		b.HTTPMethod, path = "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		b.HTTPMethod, path = p.Custom.GetKind(), p.Custom.GetPath()
		if b.HTTPMethod == "" {
			return b, errors.New("custom pattern without a kind")
		}
	default:
		return b, errors.New("google.api.http rule without a pattern (get, put, post, delete, patch or custom)")
	}
	t, err := ParseTemplate(path)
	if err != nil {
		return b, err
	}
	b.Template = t
	for _, f := range t.Fields() {
		if _, err := resolve(m.Input(), f); err != nil {
			return b, fmt.Errorf("path %s: variable %s: %w", path, f, err)
		}
	}
	if b.Body != "" && b.Body != "*" {
		if _, err := resolve(m.Input(), b.Body); err != nil {
			return b, fmt.Errorf("body %q: %w", b.Body, err)
		}
	}
	if b.ResponseBody != "" {
		fd, err := resolve(m.Output(), b.ResponseBody)
		if err != nil {
			return b, fmt.Errorf("response_body %q: %w", b.ResponseBody, err)
		}
		// Envoy: "Setting \"response_body\" is not supported yet for
		// non-HttpBody fields" (filter_config.cc, createMethodInfo).
		if fd.Message() == nil || fd.Message().FullName() != "google.api.HttpBody" {
			return b, fmt.Errorf("response_body %q is not a google.api.HttpBody field (Envoy supports no other)", b.ResponseBody)
		}
	}
	return b, nil
}

// resolve finds a dotted field path in md, by proto or JSON name.
func resolve(md protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	var fd protoreflect.FieldDescriptor
	parts := strings.Split(path, ".")
	for i, part := range parts {
		if md == nil {
			return nil, fmt.Errorf("%s is not a message", strings.Join(parts[:i], "."))
		}
		fd = md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			fd = md.Fields().ByJSONName(part)
		}
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %s", md.FullName(), part)
		}
		if i < len(parts)-1 && fd.IsList() {
			return nil, fmt.Errorf("%s is repeated; a path cannot go through it", part)
		}
		md = fd.Message()
	}
	return fd, nil
}

// Ambiguous reports bindings that the transcoder could not tell apart:
// the same HTTP method and the same template once variables are reduced
// to what they match (/v1/{a}/x and /v1/{b}/x). Envoy's path matcher
// keeps one of them, so the other method is silently unreachable.
func Ambiguous(bs []Binding) error {
	seen := map[string]*Binding{}
	var errs []string
	for i := range bs {
		b := &bs[i]
		k := b.HTTPMethod + " " + b.Template.shape()
		if o := seen[k]; o != nil {
			errs = append(errs, fmt.Sprintf("%s and %s both map %s %s", o.GRPCPath(), b.GRPCPath(), b.HTTPMethod, b.Template.shape()))
			continue
		}
		seen[k] = b
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("ambiguous REST mappings: %s", strings.Join(errs, "; "))
	}
	return nil
}

// A Match is the gRPC method a REST request maps to.
type Match struct {
	Binding *Binding
	// Path binds path variables to their values (percent-decoded as
	// Envoy decodes them by default); Query binds query parameters to
	// request fields; UnknownQuery lists query parameters that are no
	// field of the request.
	Path         map[string]string
	Query        map[string]string
	UnknownQuery []string
}

// Lookup finds the binding a request takes: of those whose HTTP method
// and template match, the most specific (a literal segment beats *,
// which beats **), as grpc-httpjson-transcoding's path matcher does. A
// custom verb (":verb" ending the last segment) is split off only when
// some binding registers it. rawPath may carry a query; nil: no binding.
func Lookup(bs []Binding, method, rawPath string) *Match {
	path, query, _ := strings.Cut(rawPath, "?")
	verbs := map[string]bool{}
	for i := range bs {
		if bs[i].Template.Verb != "" {
			verbs[bs[i].Template.Verb] = true
		}
	}
	segs := []string{}
	if p := strings.TrimPrefix(path, "/"); p != "" {
		segs = strings.Split(p, "/")
	}
	verb := ""
	if n := len(segs); n > 0 {
		if i := strings.LastIndexByte(segs[n-1], ':'); i >= 0 && verbs[segs[n-1][i+1:]] {
			verb = segs[n-1][i+1:]
			segs = append(append([]string{}, segs[:n-1]...), segs[n-1][:i])
		}
	}
	var best *Match
	var bestPrio []segKind
	for i := range bs {
		b := &bs[i]
		if b.HTTPMethod != method && b.HTTPMethod != "*" {
			continue
		}
		vals, prio, ok := b.Template.match(segs, verb)
		if !ok || (best != nil && !morePrecise(prio, bestPrio)) {
			continue
		}
		best, bestPrio = &Match{Binding: b, Path: vals}, prio
	}
	if best == nil {
		return nil
	}
	if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
		best.Query = map[string]string{}
		for _, k := range sortedKeys(q) {
			if _, err := resolve(best.Binding.input, k); err != nil || best.Binding.Body == "*" {
				best.UnknownQuery = append(best.UnknownQuery, k)
				continue
			}
			best.Query[k] = strings.Join(q[k], ",")
		}
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
