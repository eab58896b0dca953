# some x in coll and some k, v in coll over arrays, objects and sets,
# with literal patterns, nested iteration and the in operator.
package corpus.some_in

vals contains v if some v in input.coll

keys contains k if some k, _ in input.coll

kv contains [k, v] if some k, v in input.coll

matched contains k if some k, "target" in input.coll

arr_pattern contains x if some [x, 1] in input.pairs

obj_pattern contains n if some {"name": n, "ok": true} in input.records

member_lit if "target" in input.coll

member_kv if {
	some k, "target" in input.coll
	k != null
}

pair_in if ["a", 1] in {"x": ["a", 1]}

deep contains [i, j] if {
	some i, row in input.grid
	some j, cell in row
	cell == "x"
}

not_in if not "target" in input.coll

default not_in := false

result := {
	"vals": vals,
	"keys": keys,
	"kv": kv,
	"matched": matched,
	"arr_pattern": arr_pattern,
	"obj_pattern": obj_pattern,
	"member_lit": member_lit,
	"member_kv": member_kv,
	"pair_in": pair_in,
	"deep": deep,
	"not_in": not_in,
}
