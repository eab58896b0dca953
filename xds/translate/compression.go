package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	brotliv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/brotli/compressor/v3"
	gzipv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/gzip/compressor/v3"
	compressorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Response compression is Envoy's compressor filter
// (envoy.filters.http.compressor, stable, robust_to_untrusted_downstream
// in source/extensions/extensions_metadata.yaml, as are its gzip and
// brotli libraries), one instance per algorithm. What gatehouse relies on,
// from source/extensions/filters/http/compressor/compressor_filter.cc:
//
//   - Each instance is disabled in the connection manager (HttpFilter
//     disabled) and enabled per Route by a CompressorPerRoute with
//     response_direction_config overrides, so Routes that are not
//     compressed (opted out, authenticated: BREACH) never run it.
//   - Every instance reads Accept-Encoding in decodeHeaders and, with
//     several, the first to answer picks one encoding for the stream from
//     the q-values (chooseEncoding); the upstream must not compress first,
//     so a compressed Route removes Accept-Encoding from the upstream
//     request itself (request_headers_to_remove, applied by the router
//     after every filter read it). remove_accept_encoding_header in a
//     filter would hide the header from the instances after it.
//   - A response is compressed only when the client accepts the encoding,
//     it is not end_stream on headers, its Content-Length (when given) is
//     at least min_content_length, its media type is listed, it has no
//     Cache-Control no-transform and no Content-Encoding, and its status
//     is not listed as uncompressible (206: a byte range of the identity
//     body must not be re-encoded). Vary: Accept-Encoding is added even
//     when the client's encoding did not qualify, so a cache in front
//     keys on it.
//   - A strong ETag is removed by default when a response is compressed;
//     weaken_etag_on_compress keeps it as W/"..." instead (compressor.proto
//     of the pinned API), so If-None-Match revalidation, which compares
//     weakly (RFC 9110 13.1.2), still gets a 304 from the upstream.
//
// Where it sits: after every filter that can refuse a request and before
// every filter that reads or stores response bodies (the WAF's response
// inspection, request validation, the cache, the transformation and the
// transcoder). The response path runs the chain backwards, so those see
// the identity body, the cache stores one identity copy per URL, and a
// cache hit, answered by the cache filter on the way back, still passes
// through the compressor (compressionOrder).

// compressorFilters are the instances, in the Gateway's preference order
// (the first has choose_first: preferred at equal q-values).
func compressorFilters(c policy.Compression) []*hcmv3.HttpFilter {
	out := make([]*hcmv3.HttpFilter, 0, len(c.Algorithms))
	for i, a := range c.Algorithms {
		f := httpFilter(compressorFilterName(a), compressorConfig(a, c, i == 0))
		f.Disabled = true
		out = append(out, f)
	}
	return out
}

func compressorFilterName(algorithm string) string {
	if algorithm == policy.CompressBrotli {
		return wire.FilterCompressorBrotli
	}
	return wire.FilterCompressorGzip
}

// compressorConfig is one instance: its library at Envoy's defaults
// (gzip level 6-equivalent DEFAULT_COMPRESSION, brotli quality 3 in
// Envoy's Brotli message), response compression only.
func compressorConfig(algorithm string, c policy.Compression, first bool) *anyT {
	lib := &corev3.TypedExtensionConfig{Name: "envoy.compression.gzip.compressor", TypedConfig: mustAny(&gzipv3.Gzip{})}
	if algorithm == policy.CompressBrotli {
		lib = &corev3.TypedExtensionConfig{Name: "envoy.compression.brotli.compressor", TypedConfig: mustAny(&brotliv3.Brotli{})}
	}
	types := make([]*matcherv3.StringMatcher, 0, len(c.ContentTypes))
	for _, t := range c.ContentTypes {
		// A prefix, so "application/json; charset=utf-8" matches too.
		types = append(types, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: t}, IgnoreCase: true})
	}
	return mustAny(&compressorv3.Compressor{
		CompressorLibrary: lib,
		ResponseDirectionConfig: &compressorv3.Compressor_ResponseDirectionConfig{
			CommonConfig: &compressorv3.Compressor_CommonDirectionConfig{
				MinContentLength:   wrapperspb.UInt32(uint32(c.MinBytes)),
				ContentTypeMatcher: types,
			},
			WeakenEtagOnCompress:        true,
			UncompressibleResponseCodes: []uint32{206},
		},
		ChooseFirst: first,
	})
}

// anyCompressorOn enables an instance on a Route (an empty
// response_direction_config override enables response compression:
// CompressorPerRouteFilterConfig).
var anyCompressorOn = mustAny(&compressorv3.CompressorPerRoute{Override: &compressorv3.CompressorPerRoute_Overrides{
	Overrides: &compressorv3.CompressorOverrides{ResponseDirectionConfig: &compressorv3.ResponseDirectionOverrides{}},
}})

// compressRoute enables every instance on a compressed Route (which
// also removes Accept-Encoding from its upstream request).
func compressRoute(cfg map[string]*anyT, c policy.Compression) {
	for _, a := range c.Algorithms {
		cfg[compressorFilterName(a)] = anyCompressorOn
	}
}

// usesCompression reports whether some Route of gw is compressed there.
func usesCompression(gw *policy.Gateway, routes []*policy.Route) bool {
	for _, r := range routes {
		if r.CompressedOn(gw) {
			return true
		}
	}
	return false
}

const (
	compressorType         protoreflect.FullName = "envoy.extensions.filters.http.compressor.v3.Compressor"
	compressorPerRouteType protoreflect.FullName = "envoy.extensions.filters.http.compressor.v3.CompressorPerRoute"
	gzipCompressorType     protoreflect.FullName = "envoy.extensions.compression.gzip.compressor.v3.Gzip"
	brotliCompressorType   protoreflect.FullName = "envoy.extensions.compression.brotli.compressor.v3.Brotli"
	pointCompressorLibrary extensionPoint        = "compressor library"
)
