package security_paths

import (
	"fmt"
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// This file is a reference model of what Envoy does to :path before any
// filter or route sees it, driven by the settings of the
// HttpConnectionManager gatehouse emits. No Envoy runs here; each step
// names the Envoy source it follows.

// pathSettings are the HCM fields that change the path, plus the runtime
// guard envoy.reloadable_features.strip_dotdot_segments_with_parameters
// (on by default in current Envoy; false models older releases).
type pathSettings struct {
	normalize      bool
	mergeSlashes   bool
	escapedSlashes hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction
	stripDotParams bool
}

func settingsOf(h *hcmv3.HttpConnectionManager, stripDotParams bool) pathSettings {
	return pathSettings{
		normalize:      h.GetNormalizePath().GetValue(),
		mergeSlashes:   h.GetMergeSlashes(),
		escapedSlashes: h.GetPathWithEscapedSlashesAction(),
		stripDotParams: stripDotParams,
	}
}

// outcome is what Envoy does with a request path: reject it (400), redirect
// the client to path (the client then asks again), or go on with path.
type outcome struct {
	path     string
	redirect bool
	reject   bool
}

// normalizePath follows ConnectionManagerUtility::maybeNormalizePath
// (source/common/http/conn_manager_utility.cc): escaped slashes first,
// then RFC 3986 normalization, then slash merging. Only the part before
// '?' changes.
func normalizePath(raw string, s pathSettings) outcome {
	path, query, hasQuery := strings.Cut(raw, "?")
	if hasQuery {
		query = "?" + query
	}
	out := outcome{}
	if s.escapedSlashes != hcmv3.HttpConnectionManager_KEEP_UNCHANGED && s.escapedSlashes != hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT {
		// PathUtil::unescapeSlashes (source/common/http/path_utility.cc).
		u := strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", `\`, "%5c", `\`).Replace(path)
		if u != path {
			switch s.escapedSlashes {
			case hcmv3.HttpConnectionManager_REJECT_REQUEST:
				return outcome{reject: true}
			case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
				out.redirect = true
			}
			path = u
		}
	}
	if s.normalize {
		if s.stripDotParams {
			path = stripDotSegmentParams(path)
		}
		p, ok := canonicalizePath(path)
		if !ok {
			return outcome{reject: true}
		}
		path = p
	}
	if s.mergeSlashes {
		path = mergeSlashes(path)
	}
	out.path = path + query
	return out
}

// stripDotSegmentParams is PathUtil::stripParametersFromDotSegments:
// "..;x" and ".;x" segments lose their parameters.
func stripDotSegmentParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "..;"):
			segs[i] = ".."
		case strings.HasPrefix(s, ".;"):
			segs[i] = "."
		}
	}
	return strings.Join(segs, "/")
}

// mergeSlashes is PathUtil::mergeSlashes: runs of '/' become one, keeping a
// leading and a trailing slash.
func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var names []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			names = append(names, s)
		}
	}
	out := strings.Join(names, "/")
	if strings.HasPrefix(p, "/") {
		out = "/" + out
	}
	if strings.HasSuffix(p, "/") && out != "/" {
		out += "/"
	}
	return out
}

// canonicalizePath models url::CanonicalizePath, the Chromium URL library
// Envoy's PathUtil::canonicalPath calls, on a path starting with '/':
// '\' is a separator (as in Chromium's standard URLs), escapes of
// unreserved characters are decoded (so %2e is a dot), other escapes kept,
// characters a path may not hold escaped, "." and ".." segments resolved
// (never above the root). An escaped NUL fails, as Envoy's
// path_utility_test expects of "/xyz/.%00../abc".
func canonicalizePath(p string) (string, bool) {
	p = strings.ReplaceAll(p, `\`, "/")
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var out []string
	endSlash := false
	for i, raw := range segs {
		s, ok := canonSegment(raw)
		if !ok {
			return "", false
		}
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
	return res, true
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func canonSegment(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				v := hi<<4 | lo
				switch {
				case v == 0:
					return "", false
				case unreserved(v):
					b.WriteByte(v)
				default:
					b.WriteString(strings.ToUpper(s[i : i+3]))
				}
				i += 2
				continue
			}
		}
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>`{}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), true
}
