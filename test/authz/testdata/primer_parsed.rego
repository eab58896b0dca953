# Policies over the fields opa-envoy-plugin derives from the request, as
# its documentation's example input shows them: parsed_path (segments),
# parsed_query (lists of values), parsed_body (the JSON body).
package envoy.authz

import rego.v1

default allow := false

allow if {
	input.parsed_path == ["people"]
	input.parsed_query.lang == ["en"]
	input.attributes.request.http.method == "POST"
	input.parsed_body.firstname == "Charlie"
	not input.truncated_body
}

allow if {
	input.attributes.request.http.method == "GET"
	input.parsed_path[0] == "people"
}
