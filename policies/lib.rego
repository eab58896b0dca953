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

# The path without its query string.
path := split(request.path, "?")[0]

# method_is(m): the method is m (any case).
method_is(m) if method == upper(m)

# method_in(ms): the method is one of ms (any case).
method_in(ms) if {
	some m in ms
	method == upper(m)
}

# path_is(p): the path (without query) is exactly p.
path_is(p) if path == p

# path_prefix(p): the path is p or below it, by whole segments:
# "/users" matches "/users" and "/users/7", not "/usersettings".
path_prefix(p) if path == trim_suffix(p, "/")

path_prefix(p) if startswith(path, concat("", [trim_suffix(p, "/"), "/"]))

# path_glob(g): the path matches glob g with "/" as separator
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
