#!/bin/sh
# Regenerates the test PKI in this directory with certtool (Debian: gnutls-bin)
# and openssl (for unencrypted PKCS#8).
#
#   ca.pem                 root CA (ECDSA P-256), key ca-key.pem
#   intermediate-ca.pem    intermediate CA signed by the root, key intermediate-ca-key.pem
#   server.pem             RSA-2048 server certificate signed by the intermediate:
#                          SAN DNS server.example.test and localhost, IP 127.0.0.1 and ::1,
#                          EKU serverAuth; key server-key.pem
#   server-chain.pem       server.pem + intermediate-ca.pem
#   server-fullchain.pem   server.pem + intermediate-ca.pem + ca.pem
#   server-and-key.pem     server-chain.pem + server-key.pem
#   server-ecdsa.pem       the same identity with an ECDSA P-256 key (server-ecdsa-key.pem)
#   server-root.pem        server certificate signed directly by the root (key server-key.pem)
#   client.pem             client certificate (EKU clientAuth) signed by the root, client-key.pem
#   insecure-sha1.pem      server certificate signed by the intermediate with SHA-1
#   bad-signature.pem      server.pem with a damaged signature
#   expired.pem            server certificate (key server-key.pem) that expired in 2020
#   not-yet-valid.pem      server certificate (key server-key.pem) valid from 2048
#   self-signed.pem        unrelated self-signed certificate, key self-signed-key.pem
#   server.der             server.pem in DER
#   keys: server-key.{pem,der} PKCS#1, server-key-pkcs8.{pem,der} PKCS#8,
#         server-ecdsa-key.{pem,der} SEC1, server-ecdsa-key-pkcs8.{pem,der} PKCS#8
#   server-key-encrypted.pem  PKCS#8 encrypted with password "1234"
#   server.p12             server certificate, key and chain, empty password
#   server-password.p12    the same, password "1234"
#   garbage.*, truncated.*  inputs that must be rejected
#
# Good certificates are valid until 2049-12-31.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

good_dates='activation_date = "2024-01-01 00:00:00"
expiration_date = "2049-12-31 23:59:59"'

template() {  # name, body
  printf '%s\n' "$2" > "$tmp/$1.tmpl"
}

template ca "cn = \"Gtg Test Root CA\"
organization = \"gio-tls-gnutls tests\"
serial = 1
$good_dates
ca
cert_signing_key
crl_signing_key"

template intermediate "cn = \"Gtg Test Intermediate CA\"
organization = \"gio-tls-gnutls tests\"
serial = 2
$good_dates
ca
path_len = 0
cert_signing_key
crl_signing_key"

server_body='cn = "server.example.test"
organization = "gio-tls-gnutls tests"
dns_name = "server.example.test"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
encryption_key'

template server "serial = 10
$good_dates
$server_body"
template server-ecdsa "serial = 11
$good_dates
$server_body"
template server-root "serial = 12
$good_dates
$server_body"
template expired "serial = 13
activation_date = \"2019-01-01 00:00:00\"
expiration_date = \"2020-01-01 00:00:00\"
$server_body"
template not-yet-valid "serial = 14
activation_date = \"2048-01-01 00:00:00\"
expiration_date = \"2049-12-31 23:59:59\"
$server_body"

template insecure-sha1 "serial = 15
$good_dates
$server_body"

template client "cn = \"Gtg Test Client\"
organization = \"gio-tls-gnutls tests\"
email = \"client@example.test\"
serial = 20
$good_dates
tls_www_client
signing_key"

template self-signed "cn = \"unrelated.example.test\"
dns_name = \"unrelated.example.test\"
serial = 30
$good_dates
ca
cert_signing_key
tls_www_server
signing_key"

gen_key() {  # file, algorithm options...
  out=$1; shift
  certtool --generate-privkey "$@" --no-text --outfile "$out" 2>/dev/null
}

gen_key ca-key.pem --ecc --curve secp256r1
gen_key intermediate-ca-key.pem --ecc --curve secp256r1
gen_key server-key.pem --rsa --bits 2048
gen_key server-ecdsa-key.pem --ecc --curve secp256r1
gen_key client-key.pem --ecc --curve secp256r1
gen_key self-signed-key.pem --ecc --curve secp256r1

certtool --generate-self-signed --load-privkey ca-key.pem --template "$tmp/ca.tmpl" \
  --outfile ca.pem --no-text 2>/dev/null
certtool --generate-self-signed --load-privkey self-signed-key.pem \
  --template "$tmp/self-signed.tmpl" --outfile self-signed.pem --no-text 2>/dev/null

sign() {  # out, key, template, ca, ca-key
  certtool --generate-certificate --load-privkey "$2" --template "$tmp/$3.tmpl" \
    --load-ca-certificate "$4" --load-ca-privkey "$5" --outfile "$1" --no-text 2>/dev/null
}
sign intermediate-ca.pem intermediate-ca-key.pem intermediate ca.pem ca-key.pem
sign server.pem server-key.pem server intermediate-ca.pem intermediate-ca-key.pem
sign server-ecdsa.pem server-ecdsa-key.pem server-ecdsa intermediate-ca.pem intermediate-ca-key.pem
sign server-root.pem server-key.pem server-root ca.pem ca-key.pem
sign expired.pem server-key.pem expired intermediate-ca.pem intermediate-ca-key.pem
sign not-yet-valid.pem server-key.pem not-yet-valid intermediate-ca.pem intermediate-ca-key.pem
sign client.pem client-key.pem client ca.pem ca-key.pem
certtool --generate-certificate --load-privkey server-key.pem --template "$tmp/insecure-sha1.tmpl" \
  --load-ca-certificate intermediate-ca.pem --load-ca-privkey intermediate-ca-key.pem \
  --hash SHA1 --outfile insecure-sha1.pem --no-text 2>/dev/null

cat server.pem intermediate-ca.pem > server-chain.pem
cat server.pem intermediate-ca.pem ca.pem > server-fullchain.pem
cat server-chain.pem server-key.pem > server-and-key.pem
cat server-ecdsa.pem intermediate-ca.pem > server-ecdsa-chain.pem
certtool --certificate-info --infile server.pem --outder --outfile server.der 2>/dev/null

# Keys in every form: PKCS#1 / SEC1 as generated, PKCS#8 unencrypted, PEM and DER.
certtool --key-info --infile server-key.pem --outder --outfile server-key.der 2>/dev/null
certtool --key-info --infile server-ecdsa-key.pem --outder --outfile server-ecdsa-key.der 2>/dev/null
# (certtool always encrypts PKCS#8 output, so openssl writes the unencrypted form.)
for k in server-key server-ecdsa-key; do
  openssl pkcs8 -topk8 -nocrypt -in $k.pem -out $k-pkcs8.pem
  openssl pkcs8 -topk8 -nocrypt -in $k.pem -outform DER -out $k-pkcs8.der
done
# An encrypted PKCS#8 key, which must be refused with a clear message.
certtool --to-p8 --password 1234 --load-privkey server-key.pem --outfile server-key-encrypted.pem 2>/dev/null

certtool --to-p12 --load-certificate server-fullchain.pem --load-privkey server-key.pem \
  --p12-name server --empty-password --outder --outfile server.p12 2>/dev/null
certtool --to-p12 --load-certificate server-fullchain.pem --load-privkey server-key.pem \
  --p12-name server --password 1234 --outder --outfile server-password.p12 2>/dev/null

# Inputs that must be rejected.
printf 'This is not a certificate, a key or anything else.\n' > garbage.pem
printf -- '-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxsLg==\n-----END CERTIFICATE-----\n' \
  > garbage-cert.pem
printf -- '-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbC4=\n-----END PRIVATE KEY-----\n' \
  > garbage-key.pem
printf '\060\202\001\000garbage that claims to be a 256-byte DER sequence' > garbage.der
head -c 400 server.der > truncated.der
head -c 300 server.pem > truncated.pem
printf -- '-----END CERTIFICATE-----\n' >> truncated.pem
head -c 200 server.p12 > truncated.p12
# server.der with the last byte of its signature changed: parses, never verifies.
size=$(wc -c < server.der)
last=$(tail -c 1 server.der | od -An -tu1 | tr -d ' ')
head -c $((size - 1)) server.der > "$tmp/bad-signature.der"
printf "\\$(printf '%03o' $(( (last + 1) % 256 )))" >> "$tmp/bad-signature.der"
certtool --certificate-info --inder --infile "$tmp/bad-signature.der" --no-text \
  --outfile bad-signature.pem 2>/dev/null
echo "done"
