# Unification (=) and assignment (:=) with composite patterns: array and
# object destructuring, unification of two unknowns through a value,
# partial matches that fail, and == versus = on composites.
package corpus.unification

out["arr"] := [a, b] if [a, b] = input.pair

out["arr_assign"] := {"first": x, "rest": y} if [x, y] := input.pair

out["obj"] := name if {"name": name, "kind": "user"} = input.entity

out["nested"] := z if [_, {"z": z}] = input.mixed

out["swap"] := [q, p] if [p, q] = [input.pair[0], input.pair[1]]

out["lit_match"] := true if [1, "x", true] = input.triple

out["eq_composite"] := input.pair == [1, 2]

out["eq_obj_order"] := {"a": 1, "b": 2} == {"b": 2, "a": 1}

out["set_eq"] := {1, 2, 3} == {3, 2, 1}

out["arr_vs_set"] := [1, 2] == {1, 2}

out["two_way"] := v if {
	[v, 2] = [1, w]
	w == 2
}

out["chain"] := c if {
	a := input.pair
	[_, c] = a
}

result := out
