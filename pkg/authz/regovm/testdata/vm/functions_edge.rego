package corpus.functions_edge

import rego.v1

# Functions: several params, several bodies (same value: no conflict),
# else chains, defaults, undefined arguments, calls in negation, and
# functions over composite arguments.

f(x, y) := x + y if x > 0

f(x, y) := x - y if x <= 0

g(x) := "big" if x > 10
else := "small" if x >= 0
else := "negative"

same(x) := true if x == 1

same(x) := true if x >= 1

pick(obj, k) := obj[k]

default h(_) := "default"

h(x) := "one" if x == 1

result := {
	"f": [f(n, 2) | some n in input.nums],
	"g": [g(n) | some n in input.nums],
	"same": [n | some n in input.nums; same(n)],
	"pick": pick(input.obj, input.key),
	"h": [h(n) | some n in input.nums],
	"not_same": [n | some n in input.nums; not same(n)],
	"undefined_arg": [x | x := f(input.missing, 1)],
}
