# Header- and address-based gateway policies: API keys from a table,
# tenant routing from host names, source CIDR allow-lists with
# net.cidr_contains, method/path tables with glob patterns, and a
# combined decision object with reasons collected into a set.
package corpus.envoy_headers

import input.attributes.request.http

api_keys := {
	"k-123": {"tenant": "acme", "scopes": ["read"]},
	"k-456": {"tenant": "globex", "scopes": ["read", "write"]},
}

routes := [
	{"method": "GET", "path": "/v1/items/*", "scope": "read"},
	{"method": "POST", "path": "/v1/items", "scope": "write"},
	{"method": "*", "path": "/health", "scope": ""},
]

trusted_cidrs := ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"]

key := http.headers["x-api-key"]

client := api_keys[key]

tenant := split(http.host, ".")[0]

source_ip := input.attributes.source.address.socketAddress.address

from_trusted if {
	some c in trusted_cidrs
	net.cidr_contains(c, source_ip)
}

route_scope contains r.scope if {
	some r in routes
	r.method in {"*", http.method}
	glob.match(r.path, ["/"], http.path)
}

reasons contains "no-key" if not key

reasons contains "unknown-key" if {
	key
	not client
}

reasons contains "tenant-mismatch" if {
	client.tenant != tenant
}

reasons contains "no-route" if count(route_scope) == 0

reasons contains "missing-scope" if {
	some s in route_scope
	s != ""
	not s in client.scopes
}

reasons contains "untrusted-source" if not from_trusted

default allowed := false

allowed if count(reasons) == 0

allowed if "" in route_scope

result := {
	"allowed": allowed,
	"http_status": status,
	"headers": {"x-tenant": tenant_or_unknown, "x-reasons": concat(",", reasons)},
	"reasons": reasons,
}

status := 200 if allowed else := 403

default tenant_or_unknown := "unknown"

tenant_or_unknown := tenant
