# Complete rules with several definitions: equal values are fine, two
# different values are an eval_conflict_error; the conflict is only seen
# when both bodies succeed. 1 and 1.0 are equal and do not conflict.
package corpus.complete_conflict

mode := "read" if input.read

mode := "write" if input.write

mode := "read" if input.also_read

count_rule := 1 if input.one

count_rule := 1.0 if input.one_float

count_rule := 2 if input.two

result["mode"] := mode

result["count"] := count_rule

result["fixed"] := true
