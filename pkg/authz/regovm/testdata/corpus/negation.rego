# not over rule references, builtin calls, comparisons, undefined refs,
# and functions; double negation through helper rules.
package corpus.negation

blocked if input.user in {"mallory", "trudy"}

allowed if not blocked

no_name if not input.name

not_eq if not input.a == input.b

not_call if not startswith(input.name, "adm")

has_bad if {
	some x in input.items
	x == "bad"
}

clean if not has_bad

not_fn if not is_small(input.n)

is_small(n) if n < 10

not_builtin_error if not to_number(input.name)

not_defined_helper if not helper_undefined

helper_undefined if input.nope.nope.nope

double_neg if not allowed_neg

allowed_neg if not allowed

result contains "allowed" if allowed

result contains "no_name" if no_name

result contains "not_eq" if not_eq

result contains "not_call" if not_call

result contains "clean" if clean

result contains "not_fn" if not_fn

result contains "not_builtin_error" if not_builtin_error

result contains "not_defined_helper" if not_defined_helper

result contains "double_neg" if double_neg

result contains "not_false" if not false

result contains "not_input" if not input
