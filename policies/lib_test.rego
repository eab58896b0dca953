package gatehouse.lib_test

import data.gatehouse.lib

jwt_ns := "envoy.filters.http.jwt_authn"

req(method, path) := {"attributes": {"request": {"http": {
	"method": method,
	"path": path,
	"headers": {"x-tenant": "acme"},
}}}}

with_caller(base, consumer, groups, by, payload) := object.union(base, {
	"gatehouse": {"consumer": consumer, "groups": groups, "authenticated_by": by},
	"attributes": {
		"request": base.attributes.request,
		"metadataContext": {"filterMetadata": {jwt_ns: {by: payload}}},
	},
})

test_method_is_case_insensitive if {
	lib.method_is("get") with input as req("GET", "/")
	not lib.method_is("POST") with input as req("GET", "/")
}

test_method_in if {
	lib.method_in(["GET", "head"]) with input as req("HEAD", "/")
	not lib.method_in(["GET"]) with input as req("DELETE", "/")
}

test_path_ignores_query if {
	lib.path == "/users/7" with input as req("GET", "/users/7?x=1")
	lib.path_is("/users/7") with input as req("GET", "/users/7?x=1")
}

test_path_prefix_by_segment if {
	lib.path_prefix("/users") with input as req("GET", "/users")
	lib.path_prefix("/users/") with input as req("GET", "/users/7")
	lib.path_prefix("/users") with input as req("GET", "/users/7/orders")
	not lib.path_prefix("/users") with input as req("GET", "/usersettings")
}

test_path_glob if {
	lib.path_glob("/users/*") with input as req("GET", "/users/7")
	not lib.path_glob("/users/*") with input as req("GET", "/users/7/orders")
	lib.path_glob("/users/**") with input as req("GET", "/users/7/orders")
}

test_header_any_case if {
	lib.header("X-Tenant") == "acme" with input as req("GET", "/")
	not lib.header("x-missing") with input as req("GET", "/")
}

test_groups if {
	inp := with_caller(req("GET", "/"), "acme", ["partners", "beta"], "", {})
	lib.in_group("partners") with input as inp
	not lib.in_group("admins") with input as inp
	lib.in_any_group(["admins", "beta"]) with input as inp
	not lib.in_any_group(["admins"]) with input as inp
	lib.consumer == "acme" with input as inp
	not lib.is_anonymous with input as inp
}

test_anonymous if {
	lib.is_anonymous with input as with_caller(req("GET", "/"), "anonymous", [], "", {})
}

test_claims_of_authenticating_provider if {
	inp := with_caller(req("GET", "/"), "acme", [], "corp-jwt", {"sub": "alice", "roles": ["admin"], "scope": "read write"})
	lib.claims.sub == "alice" with input as inp
	lib.claim_equals("sub", "alice") with input as inp
	not lib.claim_equals("sub", "bob") with input as inp
	lib.claim_includes("roles", "admin") with input as inp
	not lib.claim_includes("roles", "guest") with input as inp
	lib.has_scope("write") with input as inp
	not lib.has_scope("delete") with input as inp
}

test_no_claims_without_jwt if {
	inp := object.union(
		with_caller(req("GET", "/"), "acme", [], "corp-jwt", {"sub": "alice"}),
		{"gatehouse": {"authenticated_by": "partner-keys"}},
	)
	not lib.claims with input as inp
	not lib.claim_equals("sub", "alice") with input as inp
}
