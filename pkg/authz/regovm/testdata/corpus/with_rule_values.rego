# with replacing rules by values and by other rules: rules referenced in
# rule-index-shaped expressions, in functions, and in every.
package corpus.with_rule_values

expected := "GET"

roles := {"admin", "dev"}

by_rule if input.method == expected

by_in_rule if input.role in roles

limit := input.limit

alt_limit := 100

ok(x) if x <= limit

check_all(xs) if every x in xs {
	ok(x)
}

result["by_rule_mocked"] := v if {
	v := by_rule with expected as "POST"
}

result["by_in_rule_mocked"] := v if {
	v := by_in_rule with roles as {"guest"}
}

result["rule_as_value"] := v if {
	v := check_all(input.xs) with limit as alt_limit
}

result["plain"] := true if check_all(input.xs)
