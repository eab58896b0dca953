# Arithmetic: + - * / % on ints, floats and big numbers, division that
# produces decimals, division and modulo by zero (undefined), modulo on
# non-integers (undefined), abs/round/ceil/floor, unary minus, and
# numbers.range.
package corpus.arithmetic

ops["add"] := input.a + input.b

ops["sub"] := input.a - input.b

ops["mul"] := input.a * input.b

ops["div"] := input.a / input.b

ops["mod"] := input.a % input.b

ops["neg"] := -input.a

ops["abs"] := abs(input.a)

ops["round"] := round(input.a)

ops["ceil"] := ceil(input.a)

ops["floor"] := floor(input.a)

ops["div_int"] := input.a / 1

ops["half"] := input.a / 2

ops["third"] := 1 / 3

ops["ten_thirds"] := 10 / 3

ops["exp_div"] := 1e3 / 8

ops["range"] := numbers.range(input.b, input.b + 3)

ops["range_step"] := numbers.range_step(0, 10, 4)

ops["chain"] := ((input.a * 2) + 1) / 2

ops["ns_to_s"] := 1700000000123456789 / 1000000000

ops["big_mul"] := 9223372036854775807 * 2

ops["big_add"] := 18446744073709551615 + 1

ops["float_sum"] := 0.1 + 0.2

ops["cmp_sum"] := (0.1 + 0.2) == 0.3

ops["div_cmp"] := (input.a / input.b) < 1

ops["minus_eq"] := (input.a - input.a) == 0

result := ops
