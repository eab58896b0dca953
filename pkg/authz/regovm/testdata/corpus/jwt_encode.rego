# io.jwt.encode_sign and encode_sign_raw with HS256 (deterministic), then
# verified and decoded again; invalid keys and headers are undefined.
package corpus.jwt_encode

jwk := {"kty": "oct", "k": base64url.encode_no_pad(input.secret)}

token := io.jwt.encode_sign({"alg": "HS256", "typ": "JWT"}, input.claims, jwk)

raw := io.jwt.encode_sign_raw(`{"alg":"HS256","typ":"JWT"}`, json.marshal(input.claims), json.marshal(jwk))

out["token"] := token

out["raw_eq"] := raw == token

out["verify"] := io.jwt.verify_hs256(token, input.secret)

out["roundtrip"] := io.jwt.decode(token)[1]

out["decode_verify"] := io.jwt.decode_verify(token, {"secret": input.secret, "time": 1700000000000000000})

out["bad_alg"] := io.jwt.encode_sign({"alg": "XX256"}, input.claims, jwk)

out["bad_key"] := io.jwt.encode_sign({"alg": "HS256"}, input.claims, {"kty": "oct"})

result := out
