# Complete rules: constants, rules defined by bodies, values computed from
# input, and a result object that is undefined when any helper is.
package corpus.complete_rules

pi := 3.14159

greeting := "hello"

is_admin if input.user.role == "admin"

level := 3 if input.user.role == "admin"

level := 1 if input.user.role == "guest"

name_upper := upper(input.user.name)

tags := [t | some t in input.user.tags]

result := {
	"pi": pi,
	"greeting": greeting,
	"level": level,
	"name_upper": name_upper,
	"tags": tags,
	"is_admin": is_admin,
}
