# Number equality and ordering across representations: ints, floats,
# exponents, 1 vs 1.0, big integers beyond int64 and uint64, negative
# zero, and comparisons between numbers from input and literals.
package corpus.numbers_compare

checks["one_eq_onef"] := 1 == 1.0

checks["one_eq_e0"] := 1 == 1e0

checks["hundred_e2"] := 100 == 1e2

checks["big_eq"] := 18446744073709551616 == 18446744073709551616.0

checks["big_lt"] := 9223372036854775807 < 9223372036854775808

checks["neg_zero"] := 0 == -0

checks["float_lt"] := 0.1 < 0.10000000000000001

checks["small"] := 1e-10 > 0

checks["mixed_lt"] := 2 < 2.5

checks["input_eq"] := input.a == input.b

checks["input_lt"] := input.a < input.b

checks["input_lte"] := input.a <= input.b

checks["input_gt"] := input.a > input.b

checks["input_gte"] := input.a >= input.b

checks["input_neq"] := input.a != input.b

checks["a_eq_1"] := input.a == 1

checks["a_in_set"] := input.a in {1, 2.5, 1e3}

checks["set_count"] := count({1, 1.0, input.a, input.b})

checks["max"] := max([input.a, input.b])

checks["min"] := min([input.a, input.b])

checks["sorted"] := sort([input.a, input.b, 0, -1, 1.5])

checks["obj_key"] := {1: "int", input.a: "a"}

result := checks
