package corpus.composites

import rego.v1

# Composite values: sets of objects, object keys of every type, array
# patterns in unification, nested comprehensions and literals mixing
# constants and variables.

pairs contains [a, b] if {
	some a in input.xs
	some b in input.xs
	a < b
}

pattern_hits contains x if {
	some [x, "on"] in input.switches
}

nested := [[y | some y in x] | some x in input.matrix]

keyed := {k: true | some k in input.keys}

lit := {"const": [1, 2, {"a": "b"}], "var": input.xs, "set": {1, 2, 3}}

result := {
	"pairs": pairs,
	"pattern_hits": pattern_hits,
	"nested": nested,
	"keyed": keyed,
	"lit": lit,
	"obj_eq": {"a": 1, "b": [1.0]} == {"b": [1], "a": 1.0},
	"set_eq": {1, 2} == {2, 1},
	"arr_ne": [1, 2] != [2, 1],
}
