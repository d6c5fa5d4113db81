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

# --- Path building (issue 15)

# openssl_signed NAME ISSUER SUBJECT EXTENSIONS: NAME's key, signed by ISSUER
# with OpenSSL, carrying exactly EXTENSIONS (an OpenSSL extension file body).
openssl_signed() {
  printf '%s\n' "$4" >"$1.ext"
  openssl req -new -key "$1-key.pem" -subj "$3" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^./1/')" \
    -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

# A root that was cross-signed by an older root which has since expired, as
# ISRG Root X1 was by DST Root CA X3 in 2021.
key xroot; tmpl xroot "$(ca_body 'Cross Root' 600)"; self_signed xroot
key xold
tmpl xold "cn = \"Cross Old Root\"
serial = 601
ca
cert_signing_key
activation_date = \"2001-01-01 00:00:00\"
expiration_date = \"2002-01-01 00:00:00\""
self_signed xold
cp xroot.pem xroot-self.pem
signed xroot xold; mv xroot.pem xroot-by-old.pem; mv xroot-self.pem xroot.pem
key xica; tmpl xica "$(ca_body 'Cross ICA' 602)"; signed xica xroot
cp xica.pem xica-good.pem
# The same intermediate (same name and key) signed by an untrusted CA.
signed xica stranger; mv xica.pem xica-by-stranger.pem; mv xica-good.pem xica.pem
key xleaf
tmpl xleaf "cn = \"cross.test\"
serial = 603
dns_name = \"cross.test\"
tls_www_server
signing_key
$valid"
signed xleaf xica
cat xleaf.pem xica.pem xroot-by-old.pem >chain-cross.pem
cat xleaf.pem stranger.pem client.pem xroot-by-old.pem xica.pem >chain-cross-reversed.pem
cat xleaf.pem xica-by-stranger.pem xica.pem >chain-backtrack.pem
cat xold.pem xroot.pem >anchors-cross.pem
cp xold.pem anchors-cross-old.pem

# 100 intermediates with one subject and distinct keys, without key
# identifiers, and a leaf that one of them signed.
same_ica_ext='basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign
subjectKeyIdentifier = none
authorityKeyIdentifier = none'
i=0
while [ $i -lt 100 ]; do
  key same$i
  openssl_signed same$i root "/CN=Same ICA" "$same_ica_ext"
  i=$((i + 1))
done
key sameleaf
openssl_signed sameleaf same0 "/CN=same.test" 'subjectAltName = DNS:same.test
subjectKeyIdentifier = none
authorityKeyIdentifier = none'
cat sameleaf.pem same0.pem >chain-same-first.pem
i=1
while [ $i -lt 100 ]; do cat same$i.pem >>chain-same-first.pem; i=$((i + 1)); done
cp sameleaf.pem chain-same-last.pem
i=1
while [ $i -lt 100 ]; do cat same$i.pem >>chain-same-last.pem; i=$((i + 1)); done
cat same0.pem >>chain-same-last.pem
rm -f same*-key.pem same[0-9]*.pem

# --- Name constraints

key ncca
tmpl ncca "$(ca_body 'NC CA' 700)
nc_permit_dns = \"example.com\"
nc_exclude_dns = \"bar.example.com\"
nc_permit_ip = \"192.0.2.0/24\""
signed ncca root
# nc_leaf NAME SERIAL ISSUER LINES: a server leaf under ISSUER (with a new
# ECDSA key unless NAME-key.pem exists)
nc_leaf() {
  [ -f "$1-key.pem" ] || key "$1"
  tmpl "$1" "serial = $2
tls_www_server
signing_key
$4
$valid"
  signed "$1" "$3"
  cat "$1.pem" "$3.pem" >"chain-$1.pem"
}
nc_leaf ncok 701 ncca 'cn = "www.example.com"
dns_name = "www.example.com"
ip_address = "192.0.2.10"'
nc_leaf ncwild 702 ncca 'cn = "wild.example.com"
dns_name = "*.example.com"'
nc_leaf ncexcl 703 ncca 'cn = "bar.example.com"
dns_name = "bar.example.com"'
nc_leaf ncout 704 ncca 'cn = "www.other.test"
dns_name = "www.other.test"'
nc_leaf ncipout 705 ncca 'cn = "ip.example.com"
dns_name = "ip.example.com"
ip_address = "198.51.100.1"'
nc_leaf nccnonly 706 ncca 'cn = "cn.other.test"'
# An intermediate whose own name breaks its issuer's constraints, and one
# whose name obeys them, each with a leaf that obeys them.
key ncsub; tmpl ncsub "$(ca_body 'NC Sub CA' 710)
dns_name = \"sub.other.test\""; signed ncsub ncca
key ncsubok; tmpl ncsubok "$(ca_body 'NC Sub CA 2' 711)"; signed ncsubok ncca
nc_leaf ncsubleaf 712 ncsub 'cn = "www.example.com"
dns_name = "www.example.com"'
cat ncsubleaf.pem ncsub.pem ncca.pem >chain-ncsubleaf.pem
nc_leaf ncsubokleaf 713 ncsubok 'cn = "www.example.com"
dns_name = "www.example.com"'
cat ncsubokleaf.pem ncsubok.pem ncca.pem >chain-ncsubokleaf.pem
# Name constraints not marked critical (permitted example.com), in a leaf,
# and of a form we cannot check (permitted URI .example.com).
key ncsoft; tmpl ncsoft "$(ca_body 'NC Soft CA' 720)
add_extension = \"2.5.29.30 0x3011a00f300d820b6578616d706c652e636f6d\""; signed ncsoft root
nc_leaf ncsoftleaf 721 ncsoft 'cn = "www.example.com"
dns_name = "www.example.com"'
key ncuri; tmpl ncuri "$(ca_body 'NC URI CA' 722)
add_critical_extension = \"2.5.29.30 0x3012a010300e860c2e6578616d706c652e636f6d\""; signed ncuri root
nc_leaf ncurileaf 723 ncuri 'cn = "www.example.com"
dns_name = "www.example.com"'
nc_leaf ncinleaf 724 inter 'cn = "www.example.com"
dns_name = "www.example.com"
add_critical_extension = "2.5.29.30 0x3011a00f300d820b6578616d706c652e636f6d"'
# Malformed subjectAltNames: a DNS name with a leading dot, an IP range.
nc_leaf baddot 730 inter 'cn = "dot.test"
dns_name = ".dot.test"'
nc_leaf badrange 731 inter 'cn = "range.test"
add_extension = "2.5.29.17 0x300a8708c0000200ffffff00"'

# --- pathLenConstraint and self-issued intermediates

key plca; tmpl plca "$(ca_body 'PL CA' 800)
path_len = 0"; signed plca root
# PL CA's new key, certified by its old one (a self-issued intermediate).
key plnew; tmpl plnew "$(ca_body 'PL CA' 801)"; signed plnew plca
key plleaf
tmpl plleaf "cn = \"pl.test\"
serial = 802
dns_name = \"pl.test\"
tls_www_server
signing_key
$valid"
signed plleaf plnew
cat plleaf.pem plnew.pem plca.pem >chain-pathlen-self-issued.pem
key plsub; tmpl plsub "$(ca_body 'PL Sub CA' 803)"; signed plsub plca
nc_leaf plsubleaf 804 plsub 'cn = "pl.test"
dns_name = "pl.test"'
cat plsubleaf.pem plsub.pem plca.pem >chain-pathlen-exceeded.pem

# --- Extension rules and key strength

key kcsleaf
openssl_signed kcsleaf inter "/CN=kcs.test" 'subjectAltName = DNS:kcs.test
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyCertSign'
cat kcsleaf.pem inter.pem >chain-kcsleaf.pem
key nopurpose
tmpl nopurpose "cn = \"nopurpose.test\"
serial = 901
dns_name = \"nopurpose.test\"
signing_key
add_extension = \"2.5.29.37 0x3000\"
$valid"
signed nopurpose inter
cat nopurpose.pem inter.pem >chain-nopurpose.pem
nc_leaf unknowncrit 902 inter 'cn = "unknown.test"
dns_name = "unknown.test"
add_critical_extension = "1.3.6.1.4.1.55555.2 0x0500"'
nc_leaf emptysubject 903 inter 'dns_name = "empty.test"'
key critaki
openssl_signed critaki inter "/CN=aki.test" 'subjectAltName = DNS:aki.test
authorityKeyIdentifier = critical,keyid:always'
cat critaki.pem inter.pem >chain-critaki.pem
key critaia
openssl_signed critaia inter "/CN=aia.test" 'subjectAltName = DNS:aia.test
authorityInfoAccess = critical,OCSP;URI:http://ocsp.test/'
cat critaia.pem inter.pem >chain-critaia.pem
key softpc
openssl_signed softpc inter "/CN=pc.test" 'subjectAltName = DNS:pc.test
policyConstraints = requireExplicitPolicy:0'
cat softpc.pem inter.pem >chain-softpc.pem
certtool --generate-privkey --key-type rsa --bits 1024 --outfile rsa1024-key.pem 2>/dev/null
nc_leaf rsa1024 910 inter 'cn = "rsa1024.test"
dns_name = "rsa1024.test"'
certtool --generate-privkey --key-type rsa --bits 2048 --outfile rsa2048-key.pem 2>/dev/null
nc_leaf rsa2048 911 inter 'cn = "rsa2048.test"
dns_name = "rsa2048.test"'
certtool --generate-privkey --key-type dsa --bits 2048 --outfile dsa-key.pem 2>/dev/null
nc_leaf dsa 912 inter 'cn = "dsa.test"
dns_name = "dsa.test"'
# A weak anchor: a root with a 1024-bit RSA key and a leaf under it.
certtool --generate-privkey --key-type rsa --bits 1024 --outfile weakroot-key.pem 2>/dev/null
tmpl weakroot "$(ca_body 'Weak Root CA' 913)"; self_signed weakroot
nc_leaf weakrootleaf 914 weakroot 'cn = "weakroot.test"
dns_name = "weakroot.test"'
cp weakrootleaf.pem chain-weakrootleaf.pem
cp weakroot.pem anchors-weakroot.pem

# --- The Web PKI profile (tests/test-webpki.cc puts webroot.pem in the
# system store): leaves that follow the Baseline Requirements and leaves that
# break one rule each.
key webroot; tmpl webroot "$(ca_body 'Web Root CA' 1000)"; self_signed webroot
key webica; tmpl webica "$(ca_body 'Web ICA' 1001)"; signed webica webroot
# web_leaf NAME SERIAL LINES
web_leaf() {
  key "$1"
  tmpl "$1" "serial = $2
signing_key
$3
$valid"
  signed "$1" webica
  cat "$1.pem" webica.pem >"chain-$1.pem"
}
web_leaf webok 1002 'cn = "web.test"
dns_name = "web.test"
tls_www_server'
web_leaf webnoeku 1003 'cn = "web.test"
dns_name = "web.test"'
web_leaf webcn 1004 'cn = "other.web.test"
dns_name = "web.test"
tls_www_server'
web_leaf webcnonly 1005 'cn = "web.test"
tls_www_server'
web_leaf webpsl 1006 'cn = "*.co.uk"
dns_name = "*.co.uk"
tls_www_server'
web_leaf webunderscore 1007 'cn = "a_b.web.test"
dns_name = "a_b.web.test"
tls_www_server'
web_leaf webanyeku 1008 'cn = "web.test"
dns_name = "web.test"
tls_www_server
key_purpose_oid = 2.5.29.37.0'

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
cp ncca.pem anchors-ncca.pem
cat root.pem >anchors-broken-crl.pem
printf -- '-----BEGIN X509 CRL-----\nMIIBroken/AAAA==\n-----END X509 CRL-----\n' >>anchors-broken-crl.pem

rm -f ./*.tmpl ./*-key.pem
