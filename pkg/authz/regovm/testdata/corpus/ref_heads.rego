# Rules with multi-level reference heads: a.b.c contains x, a.b[k] := v,
# fixed-path complete rules under a prefix, and the package subtree read
# as one document (data.corpus.ref_heads.tree).
package corpus.ref_heads

tree.users.names contains u.name if some u in input.users

tree.users.admins contains u.name if {
	some u in input.users
	u.admin == true
}

tree.byid[u.id] := u.name if some u in input.users

tree.meta.version := 2

tree.meta.total := count(input.users)

tree.meta.deep.er.still := "ok" if input.deep

tree.perms[u.name][p] := true if {
	some u in input.users
	some p in u.perms
}

result := tree
