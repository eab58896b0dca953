# Policies over the fields opa-envoy-plugin derives from the request:
# parsed_path (segments), parsed_query (lists of values), parsed_body
# (the JSON body) and truncated_body, as in the primer's examples.
package corpus.envoy_parsed

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

allow if {
	some i
	input.parsed_path[i] == "public"
	i < 2
}

resource_id := input.parsed_path[1]

page := to_number(input.parsed_query.page[0])

langs := {l | some l in input.parsed_query.lang}

body_keys := object.keys(input.parsed_body)

result["allow"] := allow

result["resource_id"] := resource_id

result["page"] := page

result["langs"] := langs

result["body_keys"] := body_keys

result["path_len"] := count(input.parsed_path)
