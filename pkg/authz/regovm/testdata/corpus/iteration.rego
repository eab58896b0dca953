# Iteration over arrays, objects and sets from input with references that
# contain variables (input.users[i].name), chained lookups, joins across
# collections and references into data built by rules.
package corpus.iteration

names contains input.users[_].name

indexed contains [i, input.users[i].name] if input.users[i].active

user_groups contains [u, g] if {
	u := input.users[_].name
	input.memberships[u][_] = g
}

group_of_first := input.memberships[input.users[0].name]

header_values contains v if {
	v := input.headers[k]
	startswith(k, "x-")
}

set_iter contains x * 10 if some x in {v | some v in input.nums}

second_level contains input.tree[a][b] if a != b

tbl := {"a": {"x": 1}, "b": {"y": 2}}

from_rule contains [k1, k2, v] if tbl[k1][k2] = v

last := input.users[count(input.users) - 1].name

result := {
	"names": names,
	"indexed": indexed,
	"user_groups": user_groups,
	"header_values": header_values,
	"set_iter": set_iter,
	"second_level": second_level,
	"from_rule": from_rule,
	"group_of_first": object.get({"v": group_of_first_or_null}, "v", null),
	"last": last_or_null,
}

default group_of_first_or_null := null

group_of_first_or_null := group_of_first

default last_or_null := null

last_or_null := last
