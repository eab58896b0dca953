package corpus.basics

import rego.v1

default allow := false

allow if {
	input.user in {"alice", "bob"}
	not denied
}

denied if input.blocked == true

roles contains r if some r in input.roles

by_name[n] := count(n) if some n in input.roles

pairs := [[i, x] | some i, x in input.roles]

first := input.roles[0]

arr_match if [a, "x"] = input.pair

result := {
	"allow": allow,
	"roles": roles,
	"by_name": by_name,
	"pairs": pairs,
	"first": first,
	"arr_match": arr_match,
} if true

