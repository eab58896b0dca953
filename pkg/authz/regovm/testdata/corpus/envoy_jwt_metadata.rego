# The primer's example of a JWT already verified by Envoy's jwt_authn
# filter and passed in metadataContext, combined with per-path role
# requirements and header checks.
package corpus.envoy_jwt_metadata

import input.attributes.metadataContext.filterMetadata as fm
import input.attributes.request.http

default allow := false

payload := fm["envoy.filters.http.jwt_authn"].verified_jwt

required_roles := {
	"/admin": {"admin"},
	"/reports": {"admin", "analyst"},
}

path_prefix := concat("", ["/", split(trim_prefix(http.path, "/"), "/")[0]])

allow if {
	payload.iss == "https://issuer.example"
	not required_roles[path_prefix]
}

allow if {
	roles := {r | some r in payload.roles}
	count(roles & required_roles[path_prefix]) > 0
}

result := {"allow": allow, "prefix": path_prefix}
