# Larger inputs (hundreds of elements): sorting, grouping, joins and
# aggregates over them, so iteration order and set/object construction
# are exercised at size.
package corpus.large_input

by_group[g] := count(members) if {
	some g in {"a", "b", "c", "d", "e"}
	members := [u.id | some u in input.users; g in u.groups]
}

names_sorted := sort([u.name | some u in input.users])

old := {u.id | some u in input.users; u.age >= input.threshold}

young := {u.id | some u in input.users; u.age < input.threshold}

total_score := sum([u.score | some u in input.users])

dup_names := {n | some i, j; input.users[i].name == input.users[j].name; i < j; n := input.users[i].name}

result := {
	"by_group": by_group,
	"first_names": array.slice(names_sorted, 0, 5),
	"old_young": count(old) + count(young),
	"disjoint": count(old & young),
	"total_score": total_score,
	"dup_names": count(dup_names),
	"max_age": max([u.age | some u in input.users]),
}
