package policy

import (
	"fmt"
	"strings"
)

// Every Gateway removes every JWT claimsToHeaders header from client
// requests, before any auth filter runs (the translator's header_mutation
// filter), so a claim header that is also an apiKey Authentication's
// header would remove the API key from every request on every Gateway:
// API-key authentication would fail closed everywhere. Such a pair is an
// error on both Authentications.

// authHeader is one header an Authentication reads or sets.
type authHeader struct {
	obj  *objErrs
	name string // the Authentication's name
	path string
}

func (h authHeader) describe() string {
	return fmt.Sprintf("Authentication %q (%s, %s:%d)", h.name, h.path, h.obj.file, h.obj.lineOf(h.path))
}

// claimHeaders lists a's JWT claim headers by lower-cased name.
func claimHeaders(o *objErrs, a *Authentication) map[string]authHeader {
	if a.Spec.JWT == nil {
		return nil
	}
	out := map[string]authHeader{}
	for i, c := range a.Spec.JWT.ClaimsToHeaders {
		if c.Header != "" {
			out[strings.ToLower(c.Header)] = authHeader{o, a.Name, fmt.Sprintf("spec.jwt.claimsToHeaders[%d].header", i)}
		}
	}
	return out
}

// apiKeyHeader is a's API-key header, lower-cased, if it reads one.
func apiKeyHeader(o *objErrs, a *Authentication) (string, authHeader, bool) {
	if k := a.Spec.APIKey; k != nil && k.Header != "" {
		return strings.ToLower(k.Header), authHeader{o, a.Name, "spec.apiKey.header"}, true
	}
	return "", authHeader{}, false
}

func reportClaimKeyClash(claim, key authHeader, header string) {
	claim.obj.add(claim.path, "header %q is the API-key header of %s: every Gateway removes claim headers sent by clients, so API keys sent in it would never be checked", header, key.describe())
	key.obj.add(key.path, "header %q is also a claim header of %s: every Gateway removes claim headers sent by clients, so API keys sent in it would never be checked", header, claim.describe())
}

// markClaimHeaderConflicts reports every claim header of a JWT
// Authentication of this load that is the API-key header of another
// Authentication of this load, on both.
func markClaimHeaderConflicts(objs []*object) {
	keys := map[string][]authHeader{}
	for _, ob := range objs {
		if a, ok := ob.val.(*Authentication); ok && ob.name != "" {
			if h, ah, ok := apiKeyHeader(ob.errs, a); ok {
				keys[h] = append(keys[h], ah)
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	for _, ob := range objs {
		a, ok := ob.val.(*Authentication)
		if !ok || ob.name == "" {
			continue
		}
		for h, claim := range claimHeaders(ob.errs, a) {
			for _, key := range keys[h] {
				reportClaimKeyClash(claim, key, h)
			}
		}
	}
}

// servedAuthHeaderConflicts reports on o every clash between a (a last good
// version about to be carried over or kept) and the Authentications the
// Snapshot already serves, and returns whether there was none.
func servedAuthHeaderConflicts(o *objErrs, a *Authentication, served map[string]*Authentication) bool {
	ok := true
	mine := claimHeaders(o, a)
	myKey, myKeyAt, hasKey := apiKeyHeader(o, a)
	for _, other := range served {
		if other.Name == a.Name {
			continue
		}
		theirs := newObjErrs(other.File, other.Line)
		if h, _, has := apiKeyHeader(theirs, other); has {
			if claim, clash := mine[h]; clash {
				o.add(claim.path, "header %q is now the API-key header of Authentication %q (%s:%d): every Gateway removes claim headers sent by clients", h, other.Name, other.File, other.Line)
				ok = false
			}
		}
		if hasKey {
			if _, clash := claimHeaders(theirs, other)[myKey]; clash {
				o.add(myKeyAt.path, "header %q is now a claim header of Authentication %q (%s:%d): every Gateway removes claim headers sent by clients", myKey, other.Name, other.File, other.Line)
				ok = false
			}
		}
	}
	return ok
}
