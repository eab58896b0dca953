# print() calls inside rule bodies: they never change results, including
# with undefined arguments (printed as <undefined>).
package corpus.print_calls

allow if {
	print("checking", input.user, input.missing)
	input.user == "ok"
}

items contains x if {
	some x in input.items
	print("item", x)
}

result := {"allow": allow_or_false, "items": items}

default allow_or_false := false

allow_or_false if allow
