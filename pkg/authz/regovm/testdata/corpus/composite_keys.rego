# Objects and sets whose keys/elements are arrays, objects, sets, numbers,
# booleans and null, produced by partial rules and comprehensions, then
# looked up by composite keys.
package corpus.composite_keys

pairs[[u.name, u.role]] := u.id if some u in input.users

by_role[{"role": u.role}] contains u.name if some u in input.users

flags[u.active] contains u.name if some u in input.users

nested_sets := {{r | some u in input.users; u.role == role; r := u.name} | some role in {u.role | some u in input.users}}

result := {
	"pairs": pairs,
	"lookup": object.get(pairs, [["ann", "admin"]], "none"),
	"by_role_admin": object.get(by_role, [{"role": "admin"}], set()),
	"flags": flags,
	"nested_sets": nested_sets,
	"null_key": {null: 1, false: 2, 0: 3, "": 4},
}
