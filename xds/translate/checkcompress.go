package translate

import (
	"slices"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	compressorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Check rules for compression and the headers for a cache in front
// (compression.go and cdn.go say why each holds).

// compressorFilter: disabled in the connection manager (Routes enable
// it), a gzip or brotli library, responses only, never removing
// Accept-Encoding itself, a strong ETag weakened (or left uncompressed)
// rather than dropped, 206 never compressed, a minimum length and a
// media type list.
func (c *checker) compressorFilter(where string, f *hcmv3.HttpFilter) {
	m := &compressorv3.Compressor{}
	if !c.unmarshal(where, f.GetTypedConfig(), m) {
		return
	}
	if !f.GetDisabled() {
		c.fail("%s: a compressor must be disabled in the connection manager and enabled per Route (opted-out and authenticated Routes must not run it)", where)
	}
	c.anyOf(where+" compressor library", m.GetCompressorLibrary().GetTypedConfig(), pointCompressorLibrary)
	rd := m.GetResponseDirectionConfig()
	switch {
	case m.GetRequestDirectionConfig() != nil:
		c.fail("%s: request compression is not used (an upstream may not accept it)", where)
	case rd == nil:
		c.fail("%s: response_direction_config must be set (the deprecated top-level fields are not used)", where)
	case rd.GetRemoveAcceptEncodingHeader():
		c.fail("%s: remove_accept_encoding_header would hide Accept-Encoding from the compressors after it; Routes remove it from the upstream request", where)
	case !rd.GetWeakenEtagOnCompress() && !rd.GetDisableOnEtagHeader():
		c.fail("%s: a compressed response would lose its strong ETag (If-None-Match revalidation breaks): set weaken_etag_on_compress", where)
	case !slices.Contains(rd.GetUncompressibleResponseCodes(), 206):
		c.fail("%s: 206 must be uncompressible (a byte range of the identity body must not be re-encoded)", where)
	case rd.GetCommonConfig().GetMinContentLength() == nil || len(rd.GetCommonConfig().GetContentTypeMatcher()) == 0:
		c.fail("%s: min_content_length and content_type_matcher must be set", where)
	case rd.GetCommonConfig().GetEnabled() != nil:
		c.fail("%s: compression is switched per Route, not by a runtime flag", where)
	}
}

// bodyReaders are the filters that read or store response bodies: each
// must come after every compressor in the chain, so that on the response
// path it runs first and sees the identity body.
var bodyReaders = map[string]bool{wire.FilterWAF: true, wire.FilterOpenAPI: true, wire.FilterCache: true, wire.FilterTransform: true, wire.FilterTranscoder: true}

// compressionOrder: no response-body reader before a compressor.
func (c *checker) compressionOrder(where string, fs []*hcmv3.HttpFilter) {
	reader := ""
	for _, f := range fs {
		if bodyReaders[f.GetName()] && reader == "" {
			reader = f.GetName()
		}
		if isCompressor(f.GetName()) && reader != "" {
			c.fail("%s http filter %q: comes after %q, which would then read (or cache) compressed response bodies; compressors go before every filter that reads response bodies", where, f.GetName(), reader)
		}
	}
}

func isCompressor(name string) bool {
	return name == wire.FilterCompressorBrotli || name == wire.FilterCompressorGzip
}

// compressedRoute: a route that enables a compressor removes
// Accept-Encoding from its upstream request, and overrides nothing but
// the enabling.
func (c *checker) compressedRoute(at func() string, rc string, r *routev3.Route) {
	on := false
	for name, a := range r.GetTypedPerFilterConfig() {
		if !isCompressor(name) {
			continue
		}
		pr := &compressorv3.CompressorPerRoute{}
		if a.UnmarshalTo(pr) != nil || pr.GetDisabled() {
			continue
		}
		on = true
		if o := pr.GetOverrides(); o.GetCompressorLibrary() != nil || o.GetResponseDirectionConfig().GetRemoveAcceptEncodingHeader() != nil {
			c.fail("%s: a per-route compressor may only enable it (no library or Accept-Encoding override)", at())
		}
	}
	if on && !containsFoldStr(r.GetRequestHeadersToRemove(), "accept-encoding") {
		c.fail("%s: a compressed route must remove accept-encoding from the upstream request (request_headers_to_remove): an upstream that compresses first hands the WAF, the cache and the transformation compressed bodies", at())
	}
}

// cacheHeadersRoute: a route that adds a header a cache in front reads
// (Cache-Control, Surrogate-Control, CDN-Cache-Control, ...:
// policy.IsCDNHeader) is served only by connection managers whose local replies >= 400 are
// no-store, so that a cache in front never stores a 401 or a 429 for
// every client.
func (c *checker) cacheHeadersRoute(at func() string, rc string, r *routev3.Route) {
	sets := false
	for _, h := range r.GetResponseHeadersToAdd() {
		if policy.IsCDNHeader(h.GetHeader().GetKey()) {
			sets = true
		}
	}
	if !sets {
		return
	}
	for _, ok := range c.rdsNoStore[rc] {
		if !ok {
			c.fail("%s: the route sets cache headers, but a connection manager using %s does not make local replies no-store (local_reply_config): a cache in front could serve a 401 or 429 to every client", at(), rc)
			return
		}
	}
}

func containsFoldStr(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
