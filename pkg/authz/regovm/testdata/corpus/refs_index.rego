# Reference edge cases: array index by number forms (0, 1.0, "0", -1, out
# of range), object keys that look like numbers, refs through composite
# literals, dynamic refs built from input, and refs with nested variables.
package corpus.refs_index

arr := ["zero", "one", "two"]

out["idx_int"] := arr[input.i]

out["idx_dyn_in"] := input.list[input.i]

out["obj_numeric_key"] := input.obj[input.k]

out["literal_ref"] := {"a": {"b": [10, 20]}}.a.b[input.i]

out["nested_var"] := input.table[input.rows[input.i]]

out["keys_from_ref"] := [input.obj[k] | some k in input.keys]

out["count_path"] := count(input.list[input.i])

out["chain"] := input.a[input.b[input.c]]

result := out
