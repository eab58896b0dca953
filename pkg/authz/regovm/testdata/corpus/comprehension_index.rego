# Comprehensions whose body equates an element field with a variable
# bound outside (the shape topdown indexes comprehensions by), with keys
# in different number forms, composite keys, and missing fields.
package corpus.comprehension_index

groups := [{"key": k, "members": members} |
	some k in input.keys
	members := [u.name | some u in input.users; u.group == k]
]

by_eq := {k: ms |
	some k in input.keys
	ms := {u.name | some u in input.users; k = u.group}
}

result := {"groups": groups, "by_eq": by_eq}
