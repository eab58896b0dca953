# Type predicates and type_name over every JSON type, cast-like built-ins,
# and comparisons across types.
package corpus.types

kinds[k] := {
	"type_name": type_name(v),
	"string": is_string(v),
	"number": is_number(v),
	"boolean": is_boolean(v),
	"array": is_array(v),
	"object": is_object(v),
	"set": is_set(v),
	"null": is_null(v),
} if some k, v in input

to_num[k] := to_number(v) if some k, v in input

result := {"kinds": kinds, "to_num": to_num, "set_type": type_name({1})}
