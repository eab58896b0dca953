# with replacing built-ins that may have native fast paths by functions:
# glob.match, io.jwt.decode_verify, count, lower, startswith, split, and
# the primer's token check under a mocked clock (value replacements are in
# with_builtin_values).
package corpus.with_builtins

mock_glob(_, _, _) := true

mock_verify(_, _) := [true, {}, {"role": "admin", "nbf": 0, "exp": 2000000000}]

mock_count(_) := 99

mock_split(_, _) := ["Bearer", "mocked"]

token := {"valid": valid, "payload": payload} if {
	[_, encoded] := split(input.auth, " ")
	[valid, _, payload] := io.jwt.decode_verify(encoded, {"secret": "secret"})
}

token_ok if {
	token.valid
	now := time.now_ns() / 1000000000
	token.payload.nbf <= now
	now < token.payload.exp
}

path_ok if glob.match("/people/*", ["/"], input.path)

# The pattern is not a constant here, so no rule index can pre-select on it.
path_ok_dyn if glob.match(input.pattern, ["/"], input.path)

# An equality on input that a rule index can pre-select on.
method_ok if input.method == "GET"

mock_eq(_, _) := true

result["token_ok_real_clock"] := v if {
	v := token_ok with io.jwt.decode_verify as mock_verify
}

result["token_ok_mock_clock"] := v if {
	v := token_ok with io.jwt.decode_verify as mock_verify with time.now_ns as 2500000000000000000
}

result["token_ok_no_mock"] := true if token_ok

result["path_ok"] := v if {
	v := path_ok
}

result["path_dyn_mocked"] := v if {
	v := path_ok_dyn with glob.match as mock_glob
}

result["call_mocked"] := v if {
	v := glob.match("/people/*", ["/"], input.path) with glob.match as mock_glob
}

result["method_ok_input_mock"] := v if {
	v := method_ok with input.method as "GET"
}

result["path_value_mock"] := v if {
	v := path_ok with glob.match as false
}

result["count_mock"] := v if {
	v := count(input.list) with count as mock_count
}

result["lower_mock"] := v if {
	v := lower("ABC") with lower as upper
}

result["startswith_mock"] := v if {
	v := startswith(input.path, "/nope") with startswith as endswith
}

result["split_mock"] := v if {
	v := token.payload.role with split as mock_split with io.jwt.decode_verify as mock_verify
}
