# Array, set and object comprehensions, nested comprehensions, and
# comprehensions closing over variables of the enclosing body.
package corpus.comprehensions

squares := [sq | some x in input.nums; sq := x * x]

evens := {x | some x in input.nums; x % 2 == 0}

index := {u.name: u.age | some u in input.users}

by_age := {age: names |
	some u in input.users
	age := u.age
	names := sort([v.name | some v in input.users; v.age == age])
}

pairs := [[a, b] | some a in input.nums; some b in input.nums; a < b]

nested := [[y | some y in row; y > 0] | some row in input.matrix]

flat := [y | some row in input.matrix; some y in row]

older_than[name] := ages if {
	some t in input.thresholds
	name := sprintf("over_%d", [t])
	ages := {u.name | some u in input.users; u.age > t}
}

empty_arr := [x | some x in input.nums; x > 1000000]

result := {
	"squares": squares,
	"evens": evens,
	"index": index,
	"by_age": by_age,
	"pairs": pairs,
	"nested": nested,
	"flat": flat,
	"older_than": older_than,
	"empty_arr": empty_arr,
	"count_in": count({x | some x in input.nums}),
}
