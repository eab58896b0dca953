# Number representations as they flow into results: literals written as
# 1.0, 1e2, 1E2, 0.50, -0, 100000000000000000000, values echoed from
# input unchanged, to_number conversions, and arithmetic results whose
# representation depends on the operands.
package corpus.number_literals

lits := {
	"one_point_zero": 1.0,
	"e2": 1e2,
	"E2": 1E2,
	"half": 0.50,
	"neg_zero": -0,
	"big": 100000000000000000000,
	"tiny": 0.000001,
	"neg_exp": 5e-3,
}

echo := input.nums

converted := [to_number(s) | some s in input.strs]

# to_number keeps the string as the number's text (e.g. "1_000", "+5"),
# which is not valid JSON; arithmetic normalizes it.
converted_odd := [y | some s in input.odd; y := to_number(s) + 0]

odd_valid := [is_number(to_number(s)) | some s in input.odd]

sums := [y | some x in input.nums; y := x + 0]

products := [y | some x in input.nums; y := x * 1]

halves := [y | some x in input.nums; y := x / 2]

keys := {sprintf("%v", [x]) | some x in input.nums}

as_keys := {x: true | some x in input.nums}

result := {
	"lits": lits,
	"echo": echo,
	"converted": converted,
	"converted_odd": converted_odd,
	"odd_valid": odd_valid,
	"sums": sums,
	"products": products,
	"halves": halves,
	"keys": keys,
	"as_keys": as_keys,
	"rounded": [round(x) | some x in input.nums],
}
