# Input and literal object keys with dashes, dots, spaces, unicode, the
# empty string and numeric-looking strings; lookups by bracket and by
# variable; iteration that yields such keys.
package corpus.special_keys

h := input.headers

result := {
	"dash": h["x-request-id"],
	"dot": object.get(h, "a.b", "none"),
	"space": object.get(h, "with space", "none"),
	"empty": object.get(h, "", "none"),
	"unicode": object.get(h, "clé", "none"),
	"numeric": object.get(h, "0", "none"),
	"keys": {k | some k, _ in h},
	"lower_keys": {lower(k): v | some k, v in h},
	"lit": {"": 1, " ": 2, "a.b": 3}[input.k],
}
