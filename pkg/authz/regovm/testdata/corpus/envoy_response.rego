# opa-envoy-plugin object decisions: a default object decision overridden
# by rule bodies (the primer's allow-as-object example), response
# headers built from request headers, and redirects with http_status.
package corpus.envoy_response

import input.attributes.request.http as http_request

default allow := {
	"allowed": false,
	"headers": {"x-ext-auth-allow": "no"},
	"body": "Unauthorized Request",
	"http_status": 403,
}

allow := response if {
	http_request.method == "GET"
	response := {
		"allowed": true,
		"headers": {"x-ext-auth-allow": "yes"},
	}
}

allow := response if {
	http_request.method == "POST"
	startswith(http_request.path, "/login")
	response := {
		"allowed": false,
		"http_status": 301,
		"headers": {"location": sprintf("https://%s/sso?next=%s", [http_request.host, urlquery.encode(http_request.path)])},
		"body": "",
	}
}

user := http_request.headers["x-user"]

enriched := object.union(allow, {"headers": object.union(object.get(allow, "headers", {}), {"x-user-id": user})})

result := {"decision": allow, "enriched": enriched_or_plain}

default enriched_or_plain := "no-user"

enriched_or_plain := enriched
