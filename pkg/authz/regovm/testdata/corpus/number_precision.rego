# Comparisons and arithmetic where float64 and exact decimal disagree:
# integers around 2^53 and 2^63/2^64, decimals that are not binary
# fractions, int64 overflow in + - *, division by powers of ten and by
# other numbers, and negative division/modulo.
package corpus.number_precision

a := input.a

b := input.b

out["eq"] := a == b

out["lt"] := a < b

out["gt"] := a > b

out["add"] := a + b

out["sub"] := a - b

out["mul"] := a * b

out["div"] := a / b

out["mod"] := a % b

out["div10"] := a / 10

out["div1000"] := a / 1000

out["div1e9"] := a / 1000000000

out["div1e3_float"] := a / 1e3

out["neg_div10"] := (0 - a) / 10

out["in_set"] := a in {b}

out["sorted"] := sort([a, b])

out["max"] := max([a, b])

out["count_set"] := count({a, b})

result := out
