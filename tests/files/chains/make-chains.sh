#!/bin/sh
# Generates the unusual certificate chains that tests/test-database.cc uses:
# ordered, unordered, duplicated and cyclic chains, a long chain, a leaf with a
# huge subjectAltName extension, extended-key-usage mismatches, IP and wildcard
# names, CN-only certificates and a certificate revoked by a CRL.
#
# Run from anywhere; writes into the directory holding this script. Needs
# certtool (Debian package gnutls-bin). Keys are ECDSA P-256 to keep it fast.
# The output is committed; rerunning replaces every file with new keys.
set -eu

cd "$(dirname "$0")"
rm -f ./*.pem ./*.tmpl

valid='activation_date = "2020-01-01 00:00:00"
expiration_date = "2099-12-31 23:59:59"'

key() {
  certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$1-key.pem" 2>/dev/null
}

# tmpl NAME BODY: writes NAME.tmpl
tmpl() {
  printf '%s\n' "$2" >"$1.tmpl"
}

# self_signed NAME
self_signed() {
  certtool --generate-self-signed --load-privkey "$1-key.pem" --template "$1.tmpl" \
    --outfile "$1.pem" 2>/dev/null
}

# signed NAME ISSUER: NAME's key and template, signed by ISSUER
signed() {
  certtool --generate-certificate --load-privkey "$1-key.pem" --template "$1.tmpl" \
    --load-ca-certificate "$2.pem" --load-ca-privkey "$2-key.pem" --outfile "$1.pem" 2>/dev/null
}

ca_body() {
  printf 'cn = "%s"\norganization = "gio-tls-gnutls tests"\nserial = %s\nca\ncert_signing_key\ncrl_signing_key\n%s\n' \
    "$1" "$2" "$valid"
}

# The trusted root and an intermediate under it.
key root;  tmpl root "$(ca_body 'Test Root CA' 1)"; self_signed root
key inter; tmpl inter "$(ca_body 'Test Intermediate CA' 2)"; signed inter root

# A server leaf: DNS names, wildcards (one too wide, one partial, one that
# looks like part of an IP address), an IP address written as a DNS name, and
# IPv4 and IPv6 addresses.
key server
tmpl server "cn = \"server.test\"
serial = 10
dns_name = \"server.test\"
dns_name = \"*.wild.test\"
dns_name = \"*.test\"
dns_name = \"f*.partial.test\"
dns_name = \"*.0.2.5\"
dns_name = \"192.0.2.6\"
ip_address = \"192.0.2.1\"
ip_address = \"2001:db8::1\"
tls_www_server
signing_key
$valid"
signed server inter

# A client leaf (clientAuth only).
key client
tmpl client "cn = \"client.test\"
serial = 11
dns_name = \"client.test\"
tls_www_client
signing_key
$valid"
signed client inter

# A leaf with neither subjectAltName nor extended key usage: CN only.
key cnonly
tmpl cnonly "cn = \"cnonly.test\"
serial = 12
signing_key
$valid"
signed cnonly inter

# A leaf whose CN differs from its only subjectAltName: no CN fallback.
key cnsan
tmpl cnsan "cn = \"cn.test\"
serial = 13
dns_name = \"san.test\"
signing_key
$valid"
signed cnsan inter

# A leaf with only an IP subjectAltName and an IP address as CN.
key iponly
tmpl iponly "cn = \"192.0.2.9\"
serial = 14
ip_address = \"192.0.2.7\"
signing_key
$valid"
signed iponly inter

# Expired and not-yet-valid leaves.
key expired
tmpl expired "cn = \"expired.test\"
serial = 15
dns_name = \"expired.test\"
activation_date = \"2001-01-01 00:00:00\"
expiration_date = \"2002-01-01 00:00:00\""
signed expired inter
key future
tmpl future "cn = \"future.test\"
serial = 16
dns_name = \"future.test\"
activation_date = \"2090-01-01 00:00:00\"
expiration_date = \"2095-01-01 00:00:00\""
signed future inter

# A leaf signed by an untrusted self-signed CA, expired: unknown CA + expired.
key stranger; tmpl stranger "$(ca_body 'Stranger CA' 30)"; self_signed stranger
key strangerleaf
tmpl strangerleaf "cn = \"stranger.test\"
serial = 31
dns_name = \"stranger.test\"
activation_date = \"2001-01-01 00:00:00\"
expiration_date = \"2002-01-01 00:00:00\""
signed strangerleaf stranger

# An expired root and a leaf under it that is itself still valid.
key oldroot
tmpl oldroot "cn = \"Expired Root CA\"
serial = 35
ca
cert_signing_key
activation_date = \"2001-01-01 00:00:00\"
expiration_date = \"2002-01-01 00:00:00\""
self_signed oldroot
key oldleaf
tmpl oldleaf "cn = \"oldleaf.test\"
serial = 36
dns_name = \"oldleaf.test\"
signing_key
$valid"
signed oldleaf oldroot

# An intermediate restricted to serverAuth, issuing a client leaf.
key srvonlyca
tmpl srvonlyca "$(ca_body 'Server-only CA' 40)
tls_www_server"
signed srvonlyca root
key srvonlyclient
tmpl srvonlyclient "cn = \"srvonly-client.test\"
serial = 41
dns_name = \"srvonly-client.test\"
tls_www_client
signing_key
$valid"
signed srvonlyclient srvonlyca

# A leaf "issued" by the client leaf, which is no CA.
key byleaf
tmpl byleaf "cn = \"byleaf.test\"
serial = 45
dns_name = \"byleaf.test\"
signing_key
$valid"
signed byleaf client

# Cross-signed CAs forming an issuer cycle: cyca signed by cycb and cycb
# signed by cyca, plus cyca's self-signed form, and a leaf under cyca.
key cyca; key cycb
tmpl cyca "$(ca_body 'Cycle CA A' 50)"; self_signed cyca
cp cyca.pem cyca-self.pem; cp cyca-key.pem cyca-self-key.pem
tmpl cycb "$(ca_body 'Cycle CA B' 51)"; self_signed cycb
cp cycb.pem cycb-self.pem; cp cycb-key.pem cycb-self-key.pem
signed cyca cycb-self; mv cyca.pem cyca-by-b.pem
signed cycb cyca-self; mv cycb.pem cycb-by-a.pem
key cycleaf
tmpl cycleaf "cn = \"cycle.test\"
serial = 52
dns_name = \"cycle.test\"
signing_key
$valid"
signed cycleaf cyca-self

# A long chain: root -> long1 ... long12 -> longleaf.
prev=root
i=1
while [ $i -le 12 ]; do
  key long$i
  tmpl long$i "$(ca_body "Long CA $i" $((100 + i)))"
  signed long$i $prev
  prev=long$i
  i=$((i + 1))
done
key longleaf
tmpl longleaf "cn = \"long.test\"
serial = 200
dns_name = \"long.test\"
signing_key
$valid"
signed longleaf long12
cat longleaf.pem long12.pem long11.pem long10.pem long9.pem long8.pem long7.pem \
  long6.pem long5.pem long4.pem long3.pem long2.pem long1.pem >chain-long.pem

# A leaf with a large subjectAltName (the 128 names certtool allows, the one
# that matters last) and a 48 KiB private extension.
key huge
{
  printf 'cn = "huge.test"\nserial = 300\nsigning_key\n%s\n' "$valid"
  i=0
  while [ $i -lt 127 ]; do
    printf 'dns_name = "name%d.huge.test"\n' $i
    i=$((i + 1))
  done
  printf 'dns_name = "huge.test"\n'
  printf 'add_extension = "1.3.6.1.4.1.55555.1 octet_string(0x%s)"\n' \
    "$(head -c 49152 /dev/zero | od -An -v -tx1 | tr -d ' \n')"
} >huge.tmpl
signed huge inter

# A leaf signed with SHA-1, which GnuTLS considers broken for signatures.
key sha1
tmpl sha1 "cn = \"sha1.test\"
serial = 500
dns_name = \"sha1.test\"
signing_key
$valid"
certtool --generate-certificate --hash SHA1 --load-privkey sha1-key.pem --template sha1.tmpl \
  --load-ca-certificate inter.pem --load-ca-privkey inter-key.pem --outfile sha1.pem 2>/dev/null

# A revoked leaf and a CRL from the intermediate saying so.
key revoked
tmpl revoked "cn = \"revoked.test\"
serial = 400
dns_name = \"revoked.test\"
signing_key
$valid"
signed revoked inter
tmpl crl 'crl_next_update = 36500
crl_number = 1'
certtool --generate-crl --load-ca-privkey inter-key.pem --load-ca-certificate inter.pem \
  --load-certificate revoked.pem --template crl.tmpl --outfile inter-crl.pem 2>/dev/null

# Chains as a peer might send them.
cat server.pem inter.pem >chain-ordered.pem
cat server.pem root.pem inter.pem >chain-unordered.pem
cat server.pem inter.pem inter.pem server.pem inter.pem >chain-duplicates.pem
cat server.pem inter.pem root.pem >chain-redundant-root.pem
cat cycleaf.pem cyca-by-b.pem cycb-by-a.pem >chain-cycle.pem
cat srvonlyclient.pem srvonlyca.pem >chain-srvonly-client.pem
cat strangerleaf.pem stranger.pem >chain-stranger.pem
cat client.pem inter.pem >chain-client.pem
cat cnonly.pem inter.pem >chain-cnonly.pem
cat cnsan.pem inter.pem >chain-cnsan.pem
cat iponly.pem inter.pem >chain-iponly.pem
cat expired.pem inter.pem >chain-expired.pem
cat future.pem inter.pem >chain-future.pem
cat revoked.pem inter.pem >chain-revoked.pem
cat huge.pem inter.pem >chain-huge.pem
cat sha1.pem inter.pem >chain-sha1.pem
cat byleaf.pem client.pem inter.pem >chain-byleaf.pem

# Anchor files.
cp root.pem anchors-root.pem
cat root.pem inter-crl.pem >anchors-root-crl.pem
cat cyca-self.pem >anchors-cycle.pem
cat root.pem inter.pem server.pem client.pem cnonly.pem >anchors-several.pem
cat root.pem inter.pem root.pem inter.pem >anchors-duplicates.pem
cat stranger-key.pem root.pem >anchors-key-first.pem
printf 'this is not a certificate\n' >garbage.pem
cat root.pem >anchors-broken.pem
printf -- '-----BEGIN CERTIFICATE-----\nMIIBroken/AAAA==\n-----END CERTIFICATE-----\n' >>anchors-broken.pem

cp oldroot.pem anchors-oldroot.pem
cat root.pem >anchors-broken-crl.pem
printf -- '-----BEGIN X509 CRL-----\nMIIBroken/AAAA==\n-----END X509 CRL-----\n' >>anchors-broken-crl.pem

rm -f ./*.tmpl ./*-key.pem
