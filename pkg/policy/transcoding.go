package policy

import (
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/pkg/transcode"
)

// Transcoding maps REST calls (JSON bodies, google.api.http path
// templates) onto the gRPC methods of a Route's GRPC backends, in Envoy's
// gRPC-JSON transcoder (docs/transformations.md, "REST to gRPC").
type Transcoding struct {
	// DescriptorSet is a serialized FileDescriptorSet (protoc
	// --include_imports --descriptor_set_out), relative to the policy
	// file.
	DescriptorSet string `yaml:"descriptorSet"`
	// Services are the fully qualified gRPC services (package.Service)
	// REST calls are mapped to.
	Services []string `yaml:"services"`
	// Print shapes the JSON of responses.
	Print *TranscodingPrint `yaml:"print"`

	// Filled by Load (not YAML fields): the descriptor set's bytes and
	// its path relative to the policy directory. Plain data only: the
	// translator's Memo compares Routes with reflect.DeepEqual, so no
	// linked descriptors are kept here (pkg/transcode reloads them).
	Descriptor     []byte `yaml:"-"`
	DescriptorFile string `yaml:"-"`
}

// TranscodingPrint are the JSON print options of responses (Envoy's
// print_options, protobuf's JsonPrintOptions); all default to false.
type TranscodingPrint struct {
	// AlwaysPrintPrimitiveFields prints fields with default values (0,
	// "", false), which are otherwise left out.
	AlwaysPrintPrimitiveFields bool `yaml:"alwaysPrintPrimitiveFields"`
	// AlwaysPrintEnumsAsInts prints enums as numbers, not names.
	AlwaysPrintEnumsAsInts bool `yaml:"alwaysPrintEnumsAsInts"`
	// PreserveProtoFieldNames prints page_size, not pageSize.
	PreserveProtoFieldNames bool `yaml:"preserveProtoFieldNames"`
	// AddWhitespace indents the JSON.
	AddWhitespace bool `yaml:"addWhitespace"`
}

// MaxDescriptorSetBytes bounds a transcoding descriptor set: it is
// embedded in the per-route config of every Route naming it, in the route
// table every proxy of the Gateway is sent, so one oversized set (a
// whole API repository with source info) would bloat every RDS update.
// A service's protos and their imports are tens of KiB.
const MaxDescriptorSetBytes = 1 << 20

// validateTranscoding checks the block and loads the descriptor set, so a
// set Envoy would refuse (and with it the whole listener update) rejects
// the Route at load time, with file, line and field.
//
// A named service none of whose methods has a google.api.http annotation
// is an error, not a warning: gatehouse does not turn on Envoy's
// auto_mapping (it would publish every method, including ones the API's
// author kept off REST, as POST /package.Service/Method), so such a
// service transcodes nothing and every REST call to it would be refused
// 404; naming it is a mistake (the wrong service, or a set built from
// protos without their annotations). Methods without an annotation in a
// service that has some are simply not reachable over REST.
func validateTranscoding(files *fileReader, o *objErrs, p, policyFile string, t *Transcoding) {
	if t == nil {
		return
	}
	if len(t.Services) == 0 {
		o.add(p+".services", "required: list at least one gRPC service (package.Service) of the descriptor set")
	}
	seen := map[string]bool{}
	for i, s := range t.Services {
		ip := fmt.Sprintf("%s.services[%d]", p, i)
		switch {
		case s == "":
			o.add(ip, "must name a gRPC service (package.Service)")
		case seen[s]:
			o.add(ip, "duplicate service %q", s)
		}
		seen[s] = true
	}
	if o.badUnder(p) {
		return
	}
	data, full, ok := files.readRelative(o, p+".descriptorSet", policyFile, t.DescriptorSet)
	if !ok {
		return
	}
	if len(data) > MaxDescriptorSetBytes {
		o.add(p+".descriptorSet", "%s is %d bytes, over the %d-byte limit (it is sent to every proxy in each transcoding Route's config): include only the services' protos and their imports, without --include_source_info", full, len(data), MaxDescriptorSetBytes)
		return
	}
	set, err := transcode.Load(data)
	if err != nil {
		o.add(p+".descriptorSet", "%s: %v", full, err)
		return
	}
	t.Descriptor, t.DescriptorFile = data, full
	var all []transcode.Binding
	bad := false
	for i, s := range t.Services {
		bs, err := set.Bindings(s)
		if err != nil {
			why := err.Error()
			if errors.Is(err, transcode.ErrNoBindings) {
				why += "; annotate its methods with option (google.api.http), or remove it from services"
			}
			o.add(fmt.Sprintf("%s.services[%d]", p, i), "%s", why)
			bad = true
			continue
		}
		all = append(all, bs...)
	}
	if bad {
		return
	}
	if err := transcode.Ambiguous(all); err != nil {
		o.add(p+".services", "%v: Envoy would keep one and the other method could not be reached; change one template", err)
	}
}

// validateTranscodingRoute: what a transcoding block cannot be combined
// with on the Route itself.
func validateTranscodingRoute(o *objErrs, r *Route) {
	sp := &r.Spec
	if sp.Transcoding == nil {
		return
	}
	if sp.Rewrite != nil && (sp.Rewrite.Prefix != "" || sp.Rewrite.Regex != nil) {
		// The transcoder replaces :path with /package.Service/Method
		// before the router applies the Route's rewrite, which would
		// then mangle the gRPC path.
		o.add("spec.transcoding", "cannot be combined with a path rewrite: the transcoder sets the gRPC path (/package.Service/Method) itself, and the rewrite would change it")
	}
	if len(sp.Backends) == 0 {
		o.add("spec.transcoding", "needs backends: GRPC Services to send the transcoded calls to")
	}
}

// resolveTranscoding: every backend of a transcoding Route is a GRPC
// Service (the transcoder speaks gRPC to the upstream; an HTTP backend
// would get protobuf frames it cannot read).
func resolveTranscoding(o *objErrs, r *Route, services map[string]*Service) {
	if r.Spec.Transcoding == nil {
		return
	}
	for _, b := range r.Spec.Backends {
		s := services[b.Service]
		if s == nil || s.Spec.Protocol == ServiceGRPC {
			continue
		}
		proto := s.Spec.Protocol
		if proto == "" {
			proto = ServiceHTTP
		}
		o.add("spec.transcoding", "Service %q has protocol %s; transcoding turns REST calls into gRPC calls, so every backend must be a GRPC Service", b.Service, proto)
		return
	}
}
