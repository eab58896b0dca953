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

# Path confusion: every helper reads the path as an upstream would.

test_path_params_stripped if {
	lib.path == "/admin/users" with input as req("GET", "/admin;jsessionid=1/users;x=2")
	lib.path_prefix("/admin") with input as req("GET", "/admin;x=1/secret")
	lib.path_is("/admin") with input as req("GET", "/admin;")
	lib.path_glob("/admin/*") with input as req("GET", "/admin;a=b/users")
	not lib.path_prefix("/public") with input as req("GET", "/public;/../admin")
}

test_path_dot_params_resolved if {
	# "..;" is ".." to Tomcat and Spring: the request is for /admin.
	lib.path == "/admin" with input as req("GET", "/public/..;/admin")
	lib.path_prefix("/admin") with input as req("GET", "/public/..;x=1/admin/")
	not lib.path_prefix("/public") with input as req("GET", "/public/..;/admin")
	lib.path == "/a/c" with input as req("GET", "/a/./b/..;/c")
	lib.path == "/b" with input as req("GET", "/../..;/a/..;/b")
	lib.path == "/c" with input as req("GET", "/a/b/..;/..;/c")
}

test_path_percent_decoded if {
	lib.path == "/admin" with input as req("GET", "/%61dmin")
	lib.path == "/admin" with input as req("GET", "/public/%2e%2e/admin")
	lib.path == "/admin" with input as req("GET", "/public/%2E%2E;/admin")
	lib.path == "/a+b" with input as req("GET", "/a+b")
	lib.path == "/a b" with input as req("GET", "/a%20b")
	not lib.path_prefix("/public") with input as req("GET", "/public%2F..%2Fadmin")
}

test_path_prefix_segments if {
	not lib.path_prefix("/public") with input as req("GET", "/publicadmin")
	not lib.path_prefix("/public") with input as req("GET", "/public.")
	lib.path_prefix("/public") with input as req("GET", "/public/")
	lib.path_prefix("/public/") with input as req("GET", "/public")
	lib.path_prefix("/") with input as req("GET", "/anything")
	lib.path_prefix("/") with input as req("GET", "/")
	lib.path_prefix("/public") with input as req("GET", "//public//x")
}

test_path_trailing_slash_and_fragment if {
	lib.path_is("/admin") with input as req("GET", "/admin/")
	lib.path_is("/admin/") with input as req("GET", "/admin")
	lib.path_is("/admin") with input as req("GET", "/admin#frag")
	lib.path_is("/") with input as req("GET", "/")
	lib.path_is("/") with input as req("GET", "/?x=1")
	lib.raw_path == "/admin/" with input as req("GET", "/admin/?x=1")
}

test_path_case_is_kept if {
	# Paths are case-sensitive, as in Envoy's route matching: a policy for
	# a case-insensitive upstream must say so itself.
	not lib.path_prefix("/admin") with input as req("GET", "/ADMIN")
	lib.path == "/ADMIN" with input as req("GET", "/ADMIN")
}

test_path_ambiguous if {
	lib.path_ambiguous with input as req("GET", "/admin/%zz")
	not lib.path with input as req("GET", "/admin/%zz")
	not lib.path_prefix("/admin") with input as req("GET", "/admin/%zz")
	not lib.path_prefix("/") with input as req("GET", "/admin/%zz")
	not lib.path_ambiguous with input as req("GET", "/admin/%41")
	long := concat("", ["/x", concat("", [s | some _ in numbers.range(1, 130); s := "/a"]), "/.."])
	lib.path_ambiguous with input as req("GET", long)
	short := concat("", [s | some _ in numbers.range(1, 100); s := "/a"])
	lib.path_prefix("/a/a") with input as req("GET", short)
}

test_path_decoded_separators if {
	lib.path == "/admin" with input as req("GET", "/public%2F..%2Fadmin")
	lib.path == "/admin" with input as req("GET", "/public%5C..%5Cadmin")
	lib.path == "/a/b" with input as req("GET", "/a\\b")
}
