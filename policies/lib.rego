# Gatehouse's Rego library: helpers for the checks most Authorization
# policies make. Every policy gatehouse evaluates can use it:
#
#   package envoy.authz
#   import data.gatehouse.lib
#
#   default allow := false
#   allow if {
#       lib.method_in(["GET", "HEAD"])
#       lib.path_prefix("/users")
#       lib.in_group("partners")
#   }
#
# The input is opa-envoy-plugin's plus input.gatehouse (see README.md).
package gatehouse.lib

# The request as Envoy describes it.
request := input.attributes.request.http

# The request method, upper case.
method := upper(request.method)

# The path as Envoy forwarded it, without its query string or fragment.
# Envoy has already decoded %2F and %5C (redirecting the client), resolved
# dot segments and merged slashes (see docs/security/edge.md).
raw_path := split(split(request.path, "?")[0], "#")[0]

# The path's segments as an upstream most likely reads them: each segment
# without its ";parameters" (as Tomcat, Jetty and Spring strip them, so
# "/admin;x=1/users" is "/admin/users" there), then percent-decoded (a
# decoded "/" or "\" splits it), then "." and ".." resolved (so "/public/..;/admin" is "/admin"), empty
# segments dropped. Undefined, and path_ambiguous true, when a segment has
# an invalid percent escape or the path is too long to resolve
# (max_segments): the path helpers then never match.
segments := _decoded if {
	count(_unescaped) == count(_parts)
	not _has_dots
}

segments := _resolved if {
	count(_unescaped) == count(_parts)
	_has_dots
	count(_decoded) <= max_segments
}

# max_segments bounds the work of resolving dot segments.
max_segments := 128

# path_ambiguous: the path has no canonical form (see segments); a policy
# may deny such requests outright.
path_ambiguous if not segments

# The canonical path: "/" and the segments, no trailing slash.
path := "/" if count(segments) == 0

path := concat("/", array.concat([""], segments)) if count(segments) > 0

_parts := [p |
	some s in split(raw_path, "/")
	p := split(s, ";")[0]
	p != ""
]

# urlquery.decode reads "+" as a space; in a path it is a plus.
_unescaped := [d |
	some p in _parts
	d := urlquery.decode(replace(p, "+", "%2B"))
]

# A decoded "/" or "\" separates segments for an upstream that decodes
# before routing (Envoy redirects %2F and %5C away, but a policy should not
# depend on that).
_decoded := [x |
	some d in _unescaped
	some x in split(replace(d, "\\", "/"), "/")
	x != ""
]

_has_dots if {
	some s in _decoded
	s in {".", ".."}
}

# A ".." removes the nearest segment before it that is still there. With
# _depth[k] the sum of the weights of the first k segments (+1 a name, -1
# "..", 0 "."), the name at i is removed exactly when the depth after some
# later segment drops below the depth just after i.
_weight(s) := -1 if s == ".."

_weight(s) := 0 if s == "."

_weight(s) := 1 if not s in {".", ".."}

_weights := [_weight(s) | some s in _decoded]

_depth := [sum(array.slice(_weights, 0, k)) | some k in numbers.range(0, count(_weights))]

_resolved := [s |
	some i, s in _decoded
	_weights[i] == 1
	_kept(i)
]

_kept(i) if i == count(_decoded) - 1

_kept(i) if {
	i < count(_decoded) - 1
	min(array.slice(_depth, i + 2, count(_decoded) + 1)) >= _depth[i + 1]
}

# _clean(p): a path written in a policy, with repeated and trailing
# slashes removed.
_clean(p) := "/" if count(_names(p)) == 0

_clean(p) := concat("/", array.concat([""], _names(p))) if count(_names(p)) > 0

_names(p) := [s | some s in split(p, "/"); s != ""]

# method_is(m): the method is m (any case).
method_is(m) if method == upper(m)

# method_in(ms): the method is one of ms (any case).
method_in(ms) if {
	some m in ms
	method == upper(m)
}

# path_is(p): the canonical path is p; a trailing slash does not count on
# either side ("/users/" is "/users").
path_is(p) if path == _clean(p)

# path_prefix(p): the canonical path is p or below it, by whole segments:
# "/users" matches "/users" and "/users/7", not "/usersettings".
path_prefix(p) if path == _clean(p)

path_prefix(p) if startswith(path, concat("", [_clean(p), "/"]))

path_prefix(p) if {
	_clean(p) == "/"
	path
}

# path_glob(g): the canonical path matches glob g with "/" as separator
# ("/users/*" matches "/users/7"; "/users/**" matches any depth).
path_glob(g) if glob.match(g, ["/"], path)

# header(name): the value of a request header (name in any case).
header(name) := request.headers[lower(name)]

# The caller's consumer name ("anonymous" when none).
consumer := input.gatehouse.consumer

# is_anonymous: no consumer was identified.
is_anonymous if input.gatehouse.consumer == "anonymous"

# in_group(g): the consumer belongs to group g.
in_group(g) if g in input.gatehouse.groups

# in_any_group(gs): the consumer belongs to at least one of gs.
in_any_group(gs) if {
	some g in gs
	in_group(g)
}

# The verified JWT payload of the provider that identified the caller
# (undefined when no JWT did). Envoy's jwt_authn verified it; gatehouse
# forwards it as opa-envoy-plugin does, in the metadata context.
claims := input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"][input.gatehouse.authenticated_by]

# claim_equals(name, value): the claim has exactly this value.
claim_equals(name, value) if claims[name] == value

# claim_includes(name, value): the claim is a list holding value, or a
# space-separated string (as OAuth scopes are) holding it.
claim_includes(name, value) if {
	is_array(claims[name])
	some v in claims[name]
	v == value
}

claim_includes(name, value) if {
	is_string(claims[name])
	value in split(claims[name], " ")
}

# has_scope(s): the token grants scope s ("scope" or "scp" claim).
has_scope(s) if claim_includes("scope", s)

has_scope(s) if claim_includes("scp", s)
