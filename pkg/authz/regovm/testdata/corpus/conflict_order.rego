# Whether a conflict error surfaces depends on whether evaluation reaches
# the conflicting rule: an undefined expression before it stops the body;
# a conflicting rule that is never referenced is no error; references
# inside negation, comprehensions and object literals still evaluate it.
package corpus.conflict_order

v := 1 if input.a

v := 2 if input.b

unused := 1 if input.a

unused := 2 if input.b

result contains "guarded" if {
	input.guard
	v
}

result contains "after_undefined" if {
	input.missing.field
	v > 0
}

result contains "not_v" if not v

result contains "comp" if {
	xs := [x | x := v]
	count(xs) >= 0
}

result contains "plain" if input.plain
