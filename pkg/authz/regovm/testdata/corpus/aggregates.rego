# count/sum/product/max/min/sort over arrays and sets, on empty
# collections, with mixed types, and array built-ins (concat, slice,
# reverse, flatten).
package corpus.aggregates

out["count_arr"] := count(input.nums)

out["sum"] := sum(input.nums)

out["product"] := product(input.nums)

out["max"] := max(input.nums)

out["min"] := min(input.nums)

out["sort"] := sort(input.nums)

out["set_sum"] := sum({x | some x in input.nums})

out["avg"] := sum(input.nums) / count(input.nums)

out["concat"] := array.concat(input.nums, [0])

out["slice"] := array.slice(input.nums, 1, 3)

out["reverse"] := array.reverse(input.nums)

out["flatten"] := array.flatten([input.nums, [[1]]])

out["count_obj"] := count({"a": 1, "b": 2})

out["count_str"] := count("héllo")

out["any"] := true in {b | some x in input.nums; b := x > 2}

out["all"] := false in {b | some x in input.nums; b := x > 2}

result := out
