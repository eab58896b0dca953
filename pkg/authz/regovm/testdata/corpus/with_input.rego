# with input.x as ..., with input as ..., several with on one expression,
# with on callers of functions, with values computed from the real input,
# with inside comprehensions and under negation.
package corpus.with_input

allow if {
	input.user.role == "admin"
	input.method == "GET"
}

default allow_or_false := false

allow_or_false if allow

not_allowed if not allow

role_name := input.user.role

greet(who) := sprintf("%s/%s", [who, input.method])

result["real"] := allow_or_false

result["as_admin"] := v if {
	v := allow_or_false with input.user.role as "admin"
}

result["as_admin_post"] := v if {
	v := allow_or_false with input.user.role as "admin" with input.method as "POST"
}

result["whole"] := v if {
	v := allow_or_false with input as {"user": {"role": "admin"}, "method": "GET"}
}

result["from_input"] := v if {
	r := upper(object.get(input, ["user", "role"], "none"))
	v := role_name with input.user.role as r
}

result["greet"] := v if {
	v := greet("bob") with input.method as "PUT"
}

result["nested_path"] := v if {
	v := input.a.b with input.a.b.c as 7
}

result["comp"] := [r |
	some u in input.users
	r := role_name with input.user as u
]

result["with_in_negation"] := true if {
	not_allowed with input.method as "DELETE"
}

result["not_with"] := true if {
	not allow with input.user as {"role": "admin"}
}
