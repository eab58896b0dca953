# Functions whose definitions produce different outputs for the same
# arguments are a runtime conflict error; agreeing definitions are not.
package corpus.function_conflict

f(x) := "positive" if x > 0

f(x) := "even" if x % 2 == 0

g(x) := 1 if x > 0

g(x) := 1 if x > 10

result := {"g": g(input.x), "f": f(input.x)}
