# Partial object rules: keys from iteration, constant keys, nested values,
# and object rules whose keys are non-strings.
package corpus.partial_objects

by_name[u.name] := u.age if some u in input.users

by_index[i] := u.name if some i, u in input.users

flags["always"] := true

flags["adult_present"] := true if {
	some u in input.users
	u.age >= 18
}

flags["count"] := count(input.users)

ages_by_bucket[b] := names if {
	some u in input.users
	b := bucket(u.age)
	names := {v.name | some v in input.users; bucket(v.age) == b}
}

bucket(a) := "minor" if a < 18

bucket(a) := "adult" if a >= 18

nested[k] := {"len": count(v), "first": v[0]} if some k, v in input.groups

result := {
	"by_name": by_name,
	"by_index": by_index,
	"flags": flags,
	"ages_by_bucket": ages_by_bucket,
	"nested": nested,
}
