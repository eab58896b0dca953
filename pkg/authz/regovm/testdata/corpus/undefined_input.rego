# Behaviour with missing or differently-typed input: references into
# missing fields, into scalars, into arrays with string keys, indexing
# out of range, and rules that must be undefined (so result is undefined
# unless one of the alternatives holds).
package corpus.undefined_input

result := input.a.b.c

result := "index-out-of-range" if {
	not input.a.b.c
	not input.list[5]
	input.list[0]
}

result := "scalar-deref" if {
	not input.a.b.c
	input.s
	not input.s.x
	not input.list[0]
}
