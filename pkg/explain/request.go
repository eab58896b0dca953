package explain

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Request is the request to explain, as a client would send it.
type Request struct {
	Gateway string               `json:"gateway"`
	Client  translate.ClientKind `json:"client"` // envoy (default) or grpc
	// Host is the Host (:authority) header, with a port if the client
	// sends one; for a proxyless gRPC client, the host it dials
	// (xds:///HOST).
	Host string `json:"host"`
	// Path is :path as sent, a query string included; for gRPC the full
	// method name (/package.Service/Method).
	Path   string `json:"path"`
	Method string `json:"method"` // default GET (POST for gRPC)
	// Headers and Query are added to the request; Query is appended to
	// Path's query string as given (not escaped).
	Headers []KV `json:"headers,omitempty"`
	Query   []KV `json:"query,omitempty"`
	// Consumer is the consumer the authz service would identify, which
	// rate-limit descriptors keyed by consumer or plan read; "" when not
	// known.
	Consumer string `json:"consumer,omitempty"`
	// ClientIP is the client's address as Envoy sees the TCP peer, for
	// remote-address descriptors and source-CIDR rules; "" when not known.
	ClientIP string `json:"client_ip,omitempty"`
}

// KV is a header or query parameter.
type KV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// checkRequest applies defaults and rejects what no client could send. Its
// errors name the field at fault.
func checkRequest(r Request) (Request, error) {
	switch r.Client {
	case "":
		r.Client = translate.ClientEnvoy
	case translate.ClientEnvoy, translate.ClientGRPC:
	default:
		return r, fmt.Errorf("client %q: want envoy or grpc", r.Client)
	}
	if r.Gateway == "" {
		return r, fmt.Errorf("gateway: name the Gateway whose proxies receive the request")
	}
	if r.Host == "" {
		return r, fmt.Errorf("host: give the Host header the client sends (for gRPC, the host it dials)")
	}
	if !strings.HasPrefix(r.Path, "/") {
		return r, fmt.Errorf("path %q: a request path starts with '/'", r.Path)
	}
	if r.Method == "" {
		r.Method = "GET"
		if r.Client == translate.ClientGRPC {
			r.Method = "POST"
		}
	}
	if strings.ToUpper(r.Method) != r.Method {
		return r, fmt.Errorf("method %q: HTTP methods are upper case (Envoy compares them exactly)", r.Method)
	}
	for _, h := range r.Headers {
		if h.Name == "" || strings.HasPrefix(h.Name, ":") || strings.EqualFold(h.Name, "host") {
			return r, fmt.Errorf("header %q: give a regular header name (host, path and method have their own options)", h.Name)
		}
	}
	for _, q := range r.Query {
		if q.Name == "" || strings.ContainsAny(q.Name+q.Value, "&#? ") {
			return r, fmt.Errorf("query %s=%s: a parameter name is required, and neither name nor value may hold '&', '#', '?' or a space", q.Name, q.Value)
		}
	}
	if r.ClientIP != "" {
		if _, err := netip.ParseAddr(r.ClientIP); err != nil {
			return r, fmt.Errorf("client IP %q: %w", r.ClientIP, err)
		}
	}
	return r, nil
}

// fullPath is Path with the Query parameters appended.
func (r Request) fullPath() string {
	p := r.Path
	for _, q := range r.Query {
		if strings.Contains(p, "?") {
			p += "&"
		} else {
			p += "?"
		}
		p += q.Name + "=" + q.Value
	}
	return p
}

// hostPort splits a Host header into host and port, the way Envoy finds a
// port (Envoy: source/common/http/header_utility.cc, getPortStart: the
// last ':' not inside an IPv6 literal's brackets). port is 0 when absent.
func hostPort(h string) (string, int) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.LastIndexByte(h, ']') > i {
		return h, 0
	}
	p, err := strconv.Atoi(h[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return h, 0
	}
	return h[:i], p
}

// normalizeHost applies the connection manager's host settings before a
// virtual host is chosen (Envoy: source/common/http/conn_manager_utility.cc,
// maybeNormalizeHost; header_utility.cc, stripTrailingHostDot and
// stripPortFromHost): the trailing dot, then the port (any port with
// strip_any_host_port, only the listener's with strip_matching_host_port).
func normalizeHost(host string, listenerPort int, h *hcmv3.HttpConnectionManager) string {
	name, port := hostPort(host)
	if h.GetStripTrailingHostDot() {
		name = strings.TrimSuffix(name, ".")
	}
	strip := port != 0 && (h.GetStripAnyHostPort() || h.GetStripMatchingHostPort() && port == listenerPort)
	if port == 0 || strip {
		return name
	}
	return name + ":" + strconv.Itoa(port)
}

// normalizePath applies the connection manager's path settings to the path
// before its query (Envoy: source/common/http/conn_manager_utility.cc,
// maybeNormalizePath): escaped slashes (%2F, %5C) per
// path_with_escaped_slashes_action, then normalize_path (RFC 3986 dot
// segments, '\' as '/', escapes of unreserved characters decoded), then
// merge_slashes. redirect is set when Envoy answers with a redirect to the
// returned path instead of routing (UNESCAPE_AND_REDIRECT); reject when it
// answers 400. The model covers what the translator emits; escapes it does
// not decode stay as sent.
func normalizePath(raw string, h *hcmv3.HttpConnectionManager) (path string, redirect, reject bool) {
	p, q, hasQuery := strings.Cut(raw, "?")
	switch h.GetPathWithEscapedSlashesAction() {
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD, hcmv3.HttpConnectionManager_REJECT_REQUEST:
		u := strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", `\`, "%5c", `\`).Replace(p)
		if u != p {
			switch h.GetPathWithEscapedSlashesAction() {
			case hcmv3.HttpConnectionManager_REJECT_REQUEST:
				return raw, false, true
			case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
				redirect = true
			}
			p = u
		}
	}
	if h.GetNormalizePath().GetValue() {
		p = resolveDots(decodeUnreserved(strings.ReplaceAll(p, `\`, "/")))
	}
	if h.GetMergeSlashes() {
		p = mergeSlashes(p)
	}
	if hasQuery {
		p += "?" + q
	}
	return p, redirect, false
}

// decodeUnreserved decodes %XX escapes of RFC 3986 unreserved characters
// (so %2e is a dot) and upper-cases the others, as Chromium's URL
// canonicalizer that Envoy's PathUtil::canonicalPath calls does.
func decodeUnreserved(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if v, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil {
				c := byte(v)
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
					b.WriteByte(c)
				} else {
					b.WriteString(strings.ToUpper(p[i : i+3]))
				}
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// resolveDots removes "." and ".." segments (never above the root),
// keeping a trailing slash where the last segment was a dot segment.
func resolveDots(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	endSlash := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			endSlash = last
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			endSlash = last
			continue
		}
		out = append(out, s)
		endSlash = false
	}
	res := "/" + strings.Join(out, "/")
	if endSlash && len(out) > 0 {
		res += "/"
	}
	return res
}

// mergeSlashes turns runs of '/' into one (Envoy: source/common/http/
// path_utility.cc, PathUtil::mergeSlashes).
func mergeSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}
