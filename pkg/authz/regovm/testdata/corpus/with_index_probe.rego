# with on input used in expressions topdown's rule index
# inspects (equality with constants, `in` over constant collections,
# equality through a local variable), to check the index honours with
# (with replacing rules there is in with_rule_values).
package corpus.with_index_probe

expected := "GET"

roles := {"admin", "dev"}

by_rule if input.method == expected

by_in if input.role in {"admin", "dev"}

by_in_rule if input.role in roles

by_local if {
	m := input.method
	m == "GET"
}

by_nested if input.req.method == "GET"

result["by_rule_input"] := v if {
	v := by_rule with input.method as "GET"
}

result["by_in_input"] := v if {
	v := by_in with input.role as "dev"
}

result["by_local_input"] := v if {
	v := by_local with input.method as "GET"
}

result["by_nested_input"] := v if {
	v := by_nested with input.req as {"method": "GET"}
}

result["by_nested_whole"] := v if {
	v := by_nested with input as {"req": {"method": "GET"}}
}
