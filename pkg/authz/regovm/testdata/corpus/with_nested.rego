# with input inside functions, inside every, inside comprehensions
# within functions, and with on input paths that are then overridden
# again (with replacing rules is in with_rule_values).
package corpus.with_nested

limit := input.limit

ok(x) if x <= limit

check_all(xs) if every x in xs {
	ok(x)
}

with_limit(xs, l) := r if {
	r := check_all(xs) with input.limit as l
}

count_ok(xs, l) := n if {
	n := count([x | some x in xs; ok(x)]) with input.limit as l
}

double_override := v if {
	v := inner with input.limit as 1
}

inner := w if {
	w := limit with input.limit as 2
}

result["plain"] := check_all(input.xs)

result["with_5"] := with_limit(input.xs, 5)

result["with_0"] := with_limit(input.xs, 0)

result["count_3"] := count_ok(input.xs, 3)

result["double_override"] := double_override

result["every_with"] := true if {
	every x in input.xs {
		ok(x) with input.limit as 1000
	}
}
