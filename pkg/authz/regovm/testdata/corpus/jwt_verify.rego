# io.jwt.decode_verify with HS256 secrets and constraints: valid tokens,
# expired, not yet valid (checked against a fixed time constraint and
# against the evaluation clock with far past/future bounds), bad
# signatures, wrong secrets, iss and aud constraints, alg constraint.
package corpus.jwt_verify

fixed_time := 1700000000000000000

check(c) := {"valid": v, "payload": p} if {
	[v, _, p] := io.jwt.decode_verify(input.token, c)
}

out["plain"] := check({"secret": "secret"})

out["fixed_time"] := check({"secret": "secret", "time": fixed_time})

out["early_time"] := check({"secret": "secret", "time": 1000000000000000000})

out["wrong_secret"] := check({"secret": "wrong"})

out["iss"] := check({"secret": "secret", "iss": "https://issuer.example", "time": fixed_time})

out["aud_api"] := check({"secret": "secret", "aud": "api", "time": fixed_time})

out["aud_none"] := check({"secret": "secret", "time": fixed_time}).valid

out["alg_hs256"] := check({"secret": "secret", "alg": "HS256", "time": fixed_time}).valid

out["alg_rs256"] := check({"secret": "secret", "alg": "RS256", "time": fixed_time}).valid

out["iss_aud"] := check({"secret": "secret", "iss": "https://issuer.example", "aud": "api", "time": fixed_time}).valid

out["no_secret"] := check({"time": fixed_time})

out["valid_and_guest"] := true if {
	c := check({"secret": "secret"})
	c.valid
	c.payload.role == "guest"
}

result := out
