# Deeply nested input documents: path lookups with object.get, json
# round trips, walk-free depth computation by iteration over a known
# key, and equality of deep structures.
package corpus.deep_nesting

path := [k | some _ in numbers.range(1, input.depth); k := "n"]

leaf := object.get(input.doc, path, "missing")

roundtrip_equal := json.unmarshal(json.marshal(input.doc)) == input.doc

encoded_len := count(json.marshal(input.doc))

result := {
	"leaf": leaf,
	"roundtrip_equal": roundtrip_equal,
	"encoded_len": encoded_len,
	"self_equal": input.doc == input.doc,
}
