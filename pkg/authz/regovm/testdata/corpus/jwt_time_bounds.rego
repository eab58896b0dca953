# io.jwt.decode_verify's exp/nbf checks at their boundaries, with a fixed
# "time" constraint equal to, just before and just after the claims:
# integer, fractional and exponent-form claims, strings, null, huge and
# negative values. The same token is verified several times with
# different constraints so a result cache must key on all of them.
package corpus.jwt_time_bounds

t0 := 1700000000000000000

verify(c) := [v, p] if [v, _, p] := io.jwt.decode_verify(input.token, c)

result["at"] := verify({"secret": "secret", "time": t0})

result["ns_before"] := verify({"secret": "secret", "time": t0 - 1})[0]

result["ns_after"] := verify({"secret": "secret", "time": t0 + 1})[0]

result["s_after"] := verify({"secret": "secret", "time": t0 + 1000000000})[0]

result["s_before"] := verify({"secret": "secret", "time": t0 - 1000000000})[0]

result["half_after"] := verify({"secret": "secret", "time": t0 + 500000000})[0]

result["float_time"] := verify({"secret": "secret", "time": 1.7e18})[0]

result["wrong_secret_same_time"] := verify({"secret": "Secret", "time": t0})[0]

result["clock"] := verify({"secret": "secret"})[0]

result["again_at"] := verify({"secret": "secret", "time": t0})[0]
