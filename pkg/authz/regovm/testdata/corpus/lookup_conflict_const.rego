# Looking up one key of a partial object whose other keys conflict:
# topdown evaluates the rule with the key bound, so a conflict on another
# key is never seen; building the whole object sees it. This file checks
# one lookup form: a constant key.
package corpus.lookup_conflict_const

owner[r.path] := r.owner if some r in input.resources

tree.owners[r.path] := r.owner if some r in input.resources

result := v if {
	v := owner["/a"]
}
