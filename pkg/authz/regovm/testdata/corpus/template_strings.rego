# Template strings ($"...{expr}..."): values of every type, undefined
# values (rendered as <undefined>), nested calls, raw template strings,
# and templates inside comprehensions.
package corpus.template_strings

out["basic"] := $"method={input.method} path={input.path}"

out["types"] := $"n={input.n} list={input.list} obj={input.obj} null={null} bool={true}"

out["undefined"] := $"missing={input.nope.deeper}"

out["call"] := $"upper={upper(input.method)} count={count(input.list)}"

out["set"] := $"set={{1, 2}}"

out["raw"] := $`raw {input.n} "quoted"`

out["iter"] := [s | some x in input.list; s := $"x={x}"] if input.iterate

result := out
