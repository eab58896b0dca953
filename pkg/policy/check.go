package policy

import (
	"errors"
	"io/fs"
	"net"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Checks shared by the per-kind validators.

// dnsName reports whether h is a lowercase DNS name (no wildcard, no port).
func dnsName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// wildcardName reports whether h is "*.<dns name>".
func wildcardName(h string) bool {
	rest, ok := strings.CutPrefix(h, "*.")
	return ok && dnsName(rest)
}

const hostRule = "a lowercase DNS name (api.example.com) or a wildcard (*.example.com), without a port"

// hostsOverlap reports whether some host could match both patterns. "" is
// "any host". A wildcard "*.example.com" matches any name ending in
// ".example.com", at any depth, as Envoy's server_names and domains do.
func hostsOverlap(a, b string) bool {
	if a == "" || b == "" || a == "*" || b == "*" || a == b {
		return true
	}
	as, aw := strings.CutPrefix(a, "*")
	bs, bw := strings.CutPrefix(b, "*")
	switch {
	case aw && bw:
		return strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as)
	case aw:
		return strings.HasSuffix(b, as)
	case bw:
		return strings.HasSuffix(a, bs)
	}
	return false
}

// tchar is RFC 9110's token character set, which header names must use.
func headerName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkHeaderName validates a header name that gatehouse will modify.
func checkHeaderName(o *objErrs, p, h string) {
	switch {
	case strings.HasPrefix(h, ":"):
		o.add(p, "%q is a pseudo-header; pseudo-headers cannot be changed", h)
	case !headerName(h):
		o.add(p, "%q is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~)", h)
	case strings.EqualFold(h, "host"):
		o.add(p, "the host header cannot be changed here; use rewrite.host")
	}
}

// checkRegex compiles re with Go's regexp, which implements RE2 syntax as
// Envoy's safe_regex does.
func checkRegex(o *objErrs, p, re string) {
	if re == "" {
		o.add(p, "required: an RE2 regular expression")
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		o.add(p, "invalid RE2 regular expression: %v", err)
	}
}

// validAddress reports whether a is an IP address or a DNS name.
func validAddress(a string) bool {
	if ip := net.ParseIP(a); ip != nil {
		return true
	}
	return dnsName(strings.ToLower(a))
}

// fileReader reads the files that policies name (certificates, JWKS,
// Rego), relative to the naming file.
type fileReader struct {
	fsys fs.FS
	read func(name string) ([]byte, error) // Options.ReadFile; nil: fsys only
	// outside records the paths read (or tried) outside the policy
	// directory, for Snapshot.ExternalFiles.
	outside map[string]bool
}

// readRelative reads a file named by a policy file, relative to that file's
// directory, and reports a missing or unsafe path as an error on p. It
// returns the data and the path relative to the policy directory.
func (r *fileReader) readRelative(o *objErrs, p, policyFile, name string) ([]byte, string, bool) {
	if name == "" {
		o.add(p, "required: a file path relative to %s", policyFile)
		return nil, "", false
	}
	if path.IsAbs(name) || filepath.IsAbs(name) {
		o.add(p, "%q must be relative to the file that names it (%s)", name, policyFile)
		return nil, "", false
	}
	full := path.Join(path.Dir(policyFile), name)
	var data []byte
	var err error
	switch {
	case fs.ValidPath(full):
		data, err = fs.ReadFile(r.fsys, full)
	case r.read != nil:
		if r.outside == nil {
			r.outside = map[string]bool{}
		}
		r.outside[full] = true
		data, err = r.read(full)
	default:
		o.add(p, "%q points outside the policy directory", name)
		return nil, "", false
	}
	if err != nil {
		o.add(p, "cannot read %s: %v", full, pathErr(err))
		return nil, "", false
	}
	return data, full, true
}

// pathErr drops the repeated path from an *fs.PathError.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// countSet counts true values, for "exactly one of" rules.
func countSet(b ...bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}
