# The users-authz policy of POLICY-MODEL.md, written as for opa-envoy-plugin.
package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.method == "GET"
	startswith(input.parsed_path[0], "user")
}

allow if {
	"partners" in input.gatehouse.groups
}
