# Looking up one key of a partial object whose other keys conflict:
# topdown evaluates the rule with the key bound, so a conflict on another
# key may never be seen; building the whole object would see it. Also
# lookups through ref-head rules and iteration over the whole object
# (which must see the conflict).
package corpus.lookup_conflicts

owner[r.path] := r.owner if some r in input.resources

tree.owners[r.path] := r.owner if some r in input.resources

result["a_const"] := owner["/a"]

result["a_dyn"] := owner[input.key]

result["a_tree"] := tree.owners["/a"]

result["has_a"] := true if owner["/a"]

result["iterate"] := count([k | some k, _ in owner]) if input.iterate
