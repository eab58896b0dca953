# Ordering of values across types (null < boolean < number < string <
# array < object < set) as seen through sort, min/max, set and object key
# order, and comparison operators on composites.
package corpus.ordering

out["sorted"] := sort(input.vals)

out["set_order"] := [x | some x in {v | some v in input.vals}]

out["obj_keys"] := object.keys({v: true | some v in input.vals})

out["max"] := max(input.vals)

out["min"] := min(input.vals)

out["arr_lt"] := [1, 2] < [1, 3]

out["arr_prefix_lt"] := [1] < [1, 0]

out["obj_lt"] := {"a": 1} < {"a": 2}

out["obj_keycount"] := {"a": 1} < {"a": 1, "b": 0}

out["str_lt"] := "B" < "a"

out["unicode_lt"] := "z" < "é"

out["cross"] := [input.vals[0] < input.vals[1], input.vals[0] > input.vals[1]]

result := out
