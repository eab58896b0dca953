// Package protoset compiles .proto sources into a serialized
// FileDescriptorSet, as `protoc --include_imports --descriptor_set_out`
// does, without a protoc binary: tests and the examples' go generate
// steps build the descriptor sets that transcoding policies name from
// readable .proto files. google/protobuf/*.proto come from the compiler's
// standard imports and google/api/{annotations,http,httpbody}.proto from the
// descriptors linked into this binary (genproto), so a .proto may use
// google.api.http annotations as it would with protoc and googleapis.
package protoset

import (
	"context"
	"fmt"

	"github.com/bufbuild/protocompile"
	_ "google.golang.org/genproto/googleapis/api/annotations" // registers google/api/annotations.proto and http.proto
	_ "google.golang.org/genproto/googleapis/api/httpbody"    // registers google/api/httpbody.proto
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Compile compiles the named files of srcs (path to content) and returns
// the FileDescriptorSet holding them and every file they import, each
// file after its imports (the order Envoy's transcoder builds them in).
func Compile(srcs map[string]string, names ...string) ([]byte, error) {
	linked := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			return protocompile.SearchResult{}, err
		}
		return protocompile.SearchResult{Desc: fd}, nil
	})
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)},
			linked,
		}),
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(set)
}
