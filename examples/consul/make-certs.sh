#!/bin/sh
# make-certs.sh [DIR] [TRUST_DOMAIN] [GATEWAY]
#
# Makes, with openssl, what the docker-compose fleet needs to run gatehouse's
# gRPC port over mTLS and the admin API with a token (docs/operations.md
# walks through it):
#
#   ca.pem, ca-key.pem          a CA (keep ca-key.pem off the servers)
#   gatehouse.pem, -key.pem     gatehouse's server certificate: DNS gatehouse,
#                               localhost, IP 127.0.0.1 (what proxies dial)
#   proxy.pem, proxy-key.pem    the Envoy's client certificate, naming its
#                               Gateway: URI SAN spiffe://TRUST_DOMAIN/gateway/GATEWAY
#   admin-token, admin-tokens   an admin API token (secret) and the tokens
#                               file line that admits it (its SHA-256)
#
# The HTTPS listener's certificate is policy/certs/localhost.pem (committed,
# self-signed, example only); Envoy receives it over SDS once it
# authenticates with proxy.pem.
#
# Defaults: DIR examples/consul/tls, TRUST_DOMAIN gatehouse, GATEWAY public.
# Certificates are valid for 30 days; run it again to renew (gatehouse
# re-reads its files; restart Envoy, which reads its files at start).
# Example only: keys are made readable by every user, because the
# containers run as users other than yours. Do not do that in production.
set -eu

dir=${1:-examples/consul/tls}
td=${2:-gatehouse}
gw=${3:-public}
days=30
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: a certificate signed by the CA.
sign() {
	key "$1-key.pem"
	openssl req -new -key "$1-key.pem" -subj "$2" -out "$1.csr"
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
		-days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

key ca-key.pem
openssl req -x509 -new -key ca-key.pem -subj "/CN=gatehouse example CA" -days "$days" -sha256 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

sign gatehouse "/CN=gatehouse" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:gatehouse,DNS:localhost,IP:127.0.0.1"

sign proxy "/CN=$gw envoy" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:spiffe://$td/gateway/$gw"

# The same token format as `gatehouse token create`: gh_ and 32 random
# bytes in URL-safe base64; the file holds only its SHA-256.
token="gh_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
printf '%s\n' "$token" >admin-token
printf 'sha256:%s admin compose\n' "$(printf '%s' "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)" >admin-tokens
# A reader token for the compose Prometheus to scrape /metrics with (the
# reader role cannot change anything). World-readable: the Prometheus image
# runs as nobody and reads it from the mounted directory.
mtoken="gh_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
printf '%s\n' "$mtoken" >metrics-token
printf 'sha256:%s reader prometheus\n' "$(printf '%s' "$mtoken" | openssl dgst -sha256 -r | cut -d' ' -f1)" >>admin-tokens

chmod 0644 ./*.pem admin-tokens metrics-token
chmod 0600 ca-key.pem admin-token
rm -f ca.srl
echo "wrote $(pwd): CA, gatehouse and proxy (spiffe://$td/gateway/$gw) certificates, an admin token, a metrics reader token"
