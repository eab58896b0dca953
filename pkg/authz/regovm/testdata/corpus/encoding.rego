# json.marshal/unmarshal (including invalid JSON: undefined), json.is_valid,
# base64 and base64url encode/decode (padded and unpadded, invalid input),
# hex, urlquery encode/decode, yaml round trips.
package corpus.encoding

out["marshal"] := json.marshal(input.v)

out["marshal_indent"] := json.marshal_with_options(input.v, {"indent": "  ", "pretty": true})

out["roundtrip"] := json.unmarshal(json.marshal(input.v))

out["roundtrip_eq"] := json.unmarshal(json.marshal(input.v)) == input.v

out["unmarshal"] := json.unmarshal(input.text)

out["is_valid"] := json.is_valid(input.text)

out["b64"] := base64.encode(input.text)

out["b64_dec"] := base64.decode(input.b64)

out["b64_valid"] := base64.is_valid(input.b64)

out["b64url"] := base64url.encode(input.text)

out["b64url_nopad"] := base64url.encode_no_pad(input.text)

out["b64url_dec"] := base64url.decode(input.b64)

out["hex"] := hex.encode(input.text)

out["hex_dec"] := hex.decode(input.hex)

out["urlq"] := urlquery.encode(input.text)

out["urlq_dec"] := urlquery.decode(input.q)

out["urlq_obj"] := urlquery.encode_object({"a": input.text, "b": ["1", "2"]})

out["urlq_dec_obj"] := urlquery.decode_object(input.q)

out["yaml"] := yaml.marshal(input.v)

out["yaml_rt"] := yaml.unmarshal(yaml.marshal(input.v))

result := out
