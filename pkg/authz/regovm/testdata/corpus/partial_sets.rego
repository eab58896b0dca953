# Partial set rules: several definitions adding to one set, duplicates,
# iteration, values from nested data, and membership tests against the set.
package corpus.partial_sets

roles contains r if some r in input.user.roles

roles contains "everyone"

roles contains "authenticated" if input.user.id

perms contains p if {
	some r in roles
	some p in data.corpus.partial_sets.grants[r]
}

grants := {
	"admin": ["read", "write", "delete"],
	"editor": ["read", "write"],
	"everyone": ["ping"],
	"authenticated": ["read"],
}

denied contains msg if {
	some p in input.want
	not p in perms
	msg := sprintf("missing %s", [p])
}

numbers contains n if some n in [1, 2, 2, 3, 1.0, 3.0]

empty contains x if {
	some x in input.nothing
	x > 1000
}

result := {
	"roles": roles,
	"perms": perms,
	"denied": denied,
	"numbers": numbers,
	"empty": empty,
	"n_roles": count(roles),
	"has_write": "write" in perms,
}
