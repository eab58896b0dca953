# Set union, intersection and difference operators, union/intersection
# built-ins over sets of sets, set equality with mixed number forms,
# and set membership and subset checks.
package corpus.sets_ops

a := {x | some x in input.a}

b := {x | some x in input.b}

out["union"] := a | b

out["inter"] := a & b

out["diff"] := a - b

out["rdiff"] := b - a

out["union_all"] := union({a, b, {"extra"}})

out["inter_all"] := intersection({a, b})

out["equal"] := a == b

out["subset"] := object.subset(a, b)

out["count_union"] := count(a | b)

out["is_empty"] := a & b == set()

out["literal"] := {1, 2, 3} - {2.0}

out["nested"] := {{1, 2}, {2, 1}, [1, 2]}

out["sorted"] := sort(a | b)

out["all_in"] := true if {
	every x in b { x in a }
}

result := out
