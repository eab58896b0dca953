# An RBAC policy with role inheritance resolved by graph.reachable,
# per-resource permissions with glob patterns, deny rules that win over
# allow rules, and an explanation object.
package corpus.rbac_inheritance

role_graph := {
	"viewer": [],
	"editor": ["viewer"],
	"admin": ["editor", "auditor"],
	"auditor": ["viewer"],
	"root": ["admin"],
}

permissions := {
	"viewer": [{"action": "read", "resource": "docs/*"}],
	"editor": [{"action": "write", "resource": "docs/*"}],
	"auditor": [{"action": "read", "resource": "logs/**"}],
	"admin": [{"action": "*", "resource": "settings/*"}],
	"root": [{"action": "*", "resource": "**"}],
}

denies := [{"action": "write", "resource": "docs/locked/*"}]

effective_roles := graph.reachable(role_graph, input.roles)

matches(p) if {
	p.action in {"*", input.action}
	glob.match(p.resource, ["/"], input.resource)
}

granted_by contains role if {
	some role in effective_roles
	some p in permissions[role]
	matches(p)
}

denied if {
	some d in denies
	matches(d)
}

default allow := false

allow if {
	count(granted_by) > 0
	not denied
}

result := {
	"allow": allow,
	"roles": effective_roles,
	"granted_by": granted_by,
	"denied": object.get({"d": denied_flag}, "d", false),
}

default denied_flag := false

denied_flag := denied
