# with replacing partial set and partial object rules, functions replaced
# by functions with conditions, and with on whole virtual documents.
package corpus.with_partial

roles contains r if some r in input.roles

grants[r] := perms if {
	some r in roles
	perms := {"admin": ["*"], "dev": ["read", "deploy"]}[r]
}

can(p) if {
	some r, perms in grants
	some q in perms
	q in {"*", p}
}

restrict(p) := false if p == "deploy"

restrict(p) := can(p) if p != "deploy"

result["read"] := can("read")

result["deploy"] := can("deploy")

result["mocked_roles"] := v if {
	v := can("deploy") with roles as {"dev"}
}

result["mocked_grants"] := v if {
	v := can("delete") with grants as {"x": ["delete"]}
}

result["mocked_fn"] := v if {
	v := [can("deploy"), can("read")] with can as restrict
}

result["mocked_input_roles"] := v if {
	v := count(grants) with input.roles as ["admin", "dev", "nobody"]
}

result["grants"] := grants
