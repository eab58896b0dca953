# A partial set looked up by one element (s["a"]) whose generation for
# another element references a conflicting complete rule: topdown
# evaluates the body with the element bound, so the conflict is reached
# only when that element is looked up; building the whole set reaches it
# for any lookup. Membership with `in` builds the whole set in both.
package corpus.lookup_conflict_set

mode := "r" if input.r

mode := "w" if input.w

s contains x if {
	some x in input.xs
	x != "b"
}

s contains x if {
	some x in input.xs
	x == "b"
	mode
}

result["lookup_a"] := v if v := s["a"]

result["in_a"] := true if {
	input.use_in
	"a" in s
}
