# walk over nested documents: paths of numbers, of strings, and the count
# of all nodes; walk on scalars and undefined.
package corpus.walk_builtin

result := {
	"number_paths": [p | walk(input.tree, [p, v]); is_number(v)],
	"strings": {v | walk(input.tree, [_, v]); is_string(v)},
	"nodes": count([1 | walk(input.tree, _)]),
}
