package authz

import (
	"fmt"
	"strings"
)

// What a decision may ask Envoy to change. Envoy applies a CheckResponse's
// header and query changes as they are unless the filter sets
// validate_mutations, and gatehouse's service is the one place that knows
// where each string came from (a policy may copy a header value out of the
// request's query, which the client chose). So the service refuses what
// would corrupt the request or the response, and the decision is then
// malformed (403, never failOpen):
//   - a header name that is not an RFC 9110 token: pseudo-headers (":path",
//     ":authority") included, and names with spaces, CR or LF;
//   - "host" among the upstream request's headers: routing already used it
//     (the headers ext_proc may not change by default, Envoy:
//     api/envoy/config/common/mutation_rules/v3/mutation_rules.proto);
//   - a header value with NUL, CR or LF: Envoy checks those only in debug
//     builds (Envoy: envoy/http/header_map.h, validHeaderString, "used by
//     ASSERTs"), so a release build would forward them;
//   - a query key or value that would not stay one parameter: Envoy
//     rebuilds the query by plain concatenation, name "=" value joined by
//     "&", with no escaping (Envoy: source/common/http/utility.cc,
//     queryParamsToString and replaceQueryString).

// checkHeaderName refuses a header name that is not a token.
func checkHeaderName(field, name string) error {
	if !isToken(name) {
		return fmt.Errorf("%q: header name %q is not an HTTP field name", field, name)
	}
	if field == "headers" && strings.EqualFold(name, "host") {
		// Upstream request headers on an allow; on a deny they go to the
		// client, where "host" is only odd: refused in both for one rule.
		return fmt.Errorf("%q: header %q is used for routing and cannot be set", field, name)
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token (section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkQueryKey refuses a parameter name that is empty or not made of
// query characters (RFC 3986 section 3.4) other than "=" and "&".
func checkQueryKey(field, k string) error {
	if k == "" || !isQueryText(k, "=&") {
		return fmt.Errorf("%q: query parameter name %q: want query characters (RFC 3986, percent-encoded), no \"=\" or \"&\"", field, k)
	}
	return nil
}

// checkQueryValue refuses a value that is not made of query characters
// other than "&".
func checkQueryValue(k, v string) error {
	if !isQueryText(v, "&") {
		return fmt.Errorf(`"query_parameters_to_set": %q: value %q: want query characters (RFC 3986, percent-encoded), no "&"`, k, v)
	}
	return nil
}

// isQueryText reports whether s holds only RFC 3986 query characters
// (pchar, "/" and "?"; "%" only as the start of an escape), none of them
// in except.
func isQueryText(s, except string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(except, c) >= 0:
			return false
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
