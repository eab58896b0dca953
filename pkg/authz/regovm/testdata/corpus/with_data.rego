# with data.corpus... replacing rules (rule mocking), with on functions
# replaced by values or by other functions, with on builtins.
package corpus.with_data

default allow := false

allow if {
	is_admin
	not blocked
}

is_admin if input.role == "admin"

blocked if input.ip in {"10.0.0.1"}

limit := 5

under_limit if count(input.items) <= limit

default under_limit_or_false := false

under_limit_or_false if under_limit

caller(x) := sprintf("user-%v", [lookup(x)])

lookup(x) := upper(x)

mock_lookup(x) := lower(x)

mock_upper(x) := concat("", ["<", x, ">"])

result["allow"] := allow

result["mock_admin"] := v if {
	v := allow with is_admin as true
}

result["mock_blocked"] := v if {
	v := allow with blocked as false with is_admin as true
}

result["mock_limit"] := v if {
	v := under_limit_or_false with limit as 1
}

result["limit_plain"] := under_limit_or_false

result["fn_value"] := v if {
	v := caller(input.role) with lookup as "fixed"
}

result["fn_func"] := v if {
	v := caller(input.role) with lookup as mock_lookup
}

result["builtin"] := v if {
	v := caller(input.role) with upper as mock_upper
}

result["builtin_value"] := v if {
	v := upper("x") with upper as "replaced"
}

result["data_doc"] := v if {
	v := data.corpus.with_data.limit with data.corpus.with_data.limit as 99
}

result["mock_with_input"] := v if {
	v := allow with is_admin as input.force
}
