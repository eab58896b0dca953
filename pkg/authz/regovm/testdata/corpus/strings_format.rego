# sprintf with every common verb and argument type, string
# interpolation templates, and number formatting.
package corpus.strings_format

out["s"] := sprintf("%s-%s", [input.a, input.b])

out["d"] := sprintf("%d", [input.n])

out["v"] := sprintf("%v|%v|%v|%v", [input.a, input.n, input.list, input.obj])

out["f"] := sprintf("%.2f", [input.n])

out["x"] := sprintf("%x", [input.n])

out["q"] := sprintf("%q", [input.a])

out["pad"] := sprintf("[%5s][%-5s]", [input.a, input.a])

out["too_few"] := sprintf("%s %s", [input.a])

out["percent"] := sprintf("100%%", [])

out["bool"] := sprintf("%v %t", [true, false])

out["null"] := sprintf("%v", [null])

out["set"] := sprintf("%v", [{3, 1, 2}])

out["big"] := sprintf("%v %d", [12345678901234567890, 12345678901234567890])

out["float_v"] := sprintf("%v", [input.f])

out["template"] := $"user={input.a} n={input.n}"

out["json_string"] := sprintf("%s", [json.marshal(input.obj)])

result := out
