# User functions: several arguments, multiple definitions that agree,
# functions returning composite values, functions calling functions,
# argument destructuring, and functions used as boolean tests.
package corpus.functions

add3(a, b, c) := (a + b) + c

full_name(u) := concat(" ", [u.first, u.last])

is_even(n) if n % 2 == 0

kind(x) := "string" if is_string(x)

kind(x) := "number" if is_number(x)

kind(x) := "collection" if is_array(x)

kind(x) := "collection" if is_set(x)

first_of([x, _]) := x

point_sum({"x": x, "y": y}) := x + y

wrap(x) := {"value": x, "kind": kind(x)}

twice(x) := double(double(x))

double(x) := x * 2

max_of(a, b) := a if a >= b

max_of(a, b) := b if b > a

safe_div(a, b) := a / b if b != 0

result := {
	"add3": add3(input.a, input.b, 3),
	"full_name": full_name(input.user),
	"evens": [n | some n in input.nums; is_even(n)],
	"kinds": [kind(x) | some x in input.mixed],
	"first_of": first_of(input.pair),
	"point_sum": point_sum(input.point),
	"wrap": wrap(input.a),
	"twice": twice(input.a),
	"max_of": max_of(input.a, input.b),
	"safe": [safe_div(10, d) | some d in input.nums],
}
