# The in operator in all its forms: x in array/set/object values, k, v in
# collections (member_3), negated membership, membership of composites and
# of numbers in different representations, and in on non-collections.
package corpus.membership

out["in_arr"] := input.x in input.arr

out["in_set"] := input.x in {v | some v in input.arr}

out["in_obj_values"] := input.x in input.obj

out["kv_arr"] := 0, input.x in input.arr

out["kv_obj"] := "k", input.x in input.obj

out["not_in"] := not_in

not_in if not input.x in input.arr

out["num_forms"] := 1.0 in [1, 2]

out["composite"] := [1, {"a": 2}] in [[1, {"a": 2}]]

out["in_string"] := "a" in "abc"

out["in_null"] := input.x in null

out["literal_set"] := input.x in {"a", "b", 1}

result := out
