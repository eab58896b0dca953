package corpus.dynamic_refs

import rego.v1

# Lookups of rules by a key known only at evaluation (CallDynamicStmt when
# the planner can see the rules it may reach), iteration over a package's
# rules (its document is merged from the rule functions), and rules that
# are undefined for some inputs.

handlers.get := "read"

handlers.post := "write"

handlers.delete := "admin" if input.admin

verb := lower(input.method)

result["by_key"] := handlers[verb]

result["all"] := {k: v | some k, v in handlers}

result["count"] := count(handlers)

result["keys"] := [k | some k, _ in handlers]

result["known"] := verb in object.keys(handlers)

result["nested"] := data.corpus.dynamic_refs.handlers[input.other]
