# io.jwt.decode (no verification) and io.jwt.verify_hs256 on HS256 tokens
# generated offline: header/payload extraction, claims with arrays,
# floats and big numbers, malformed tokens (undefined), Bearer parsing.
package corpus.jwt_decode

parts := io.jwt.decode(input.token)

out["header"] := parts[0]

out["payload"] := parts[1]

out["sig_len"] := count(parts[2])

out["verify_secret"] := io.jwt.verify_hs256(input.token, "secret")

out["verify_other"] := io.jwt.verify_hs256(input.token, "not-the-secret")

out["role"] := parts[1].role

out["groups"] := {g | some g in parts[1].groups}

out["aud_has_api"] := "api" in parts[1].aud

out["bearer"] := io.jwt.decode(bearer)[1].sub

bearer := t if {
	v := input.authorization
	startswith(v, "Bearer ")
	t := substring(v, count("Bearer "), -1)
}

out["sub_decoded"] := base64url.decode(parts[1].sub)

result := out
