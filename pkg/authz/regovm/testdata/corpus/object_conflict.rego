# Partial object rules producing the same key with different values are a
# conflict error; the same key with equal values is not. Sets never
# conflict.
package corpus.object_conflict

owner[r.path] := r.owner if some r in input.resources

tags contains r.owner if some r in input.resources

result := {"owner": owner, "tags": tags}
