// TrustAnchors: see trust_anchors.h.
#include "config.h"

#include "trust_anchors.h"

#include "chain_verifier.h"
#include "owners.h"

#include <glib/gi18n-lib.h>

#include <utility>

namespace gtg {

namespace {

std::string take_datum(int ret, gnutls_datum_t *datum)
{
  std::string out;
  if (ret >= 0 && datum->data)
    out.assign(reinterpret_cast<const char *>(datum->data), datum->size);
  gnutls_free(datum->data);
  return out;
}

}  // namespace

std::string raw_subject_of(gnutls_x509_crt_t crt)
{
  gnutls_datum_t dn{};
  int ret = gnutls_x509_crt_get_raw_dn(crt, &dn);
  return take_datum(ret, &dn);
}

std::string raw_issuer_of(gnutls_x509_crt_t crt)
{
  gnutls_datum_t dn{};
  int ret = gnutls_x509_crt_get_raw_issuer_dn(crt, &dn);
  return take_datum(ret, &dn);
}

std::string subject_of(gnutls_x509_crt_t crt)
{
  GnutlsBuffer dn;
  if (gnutls_x509_crt_get_dn3(crt, dn.out(), 0) < 0 || dn.datum.size == 0)
    return _("(certificate without subject name)");
  return std::string(reinterpret_cast<const char *>(dn.datum.data), dn.datum.size);
}

bool is_self_issued(gnutls_x509_crt_t crt)
{
  return raw_subject_of(crt) == raw_issuer_of(crt);
}

std::vector<std::string> common_names(gnutls_x509_crt_t crt)
{
  std::vector<std::string> names;
  for (unsigned i = 0; i < 64; ++i) {
    size_t size = 0;
    int ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, nullptr, &size);
    if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER)
      break;
    std::string name(size + 1, '\0');
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, name.data(), &size) < 0)
      break;
    name.resize(size);
    if (name.find('\0') == std::string::npos)  // a name with an embedded NUL never matches
      names.insert(names.begin(), std::move(name));
  }
  return names;
}

TrustAnchors::TrustAnchors(std::vector<gnutls_x509_crt_t> anchors,
                           std::vector<gnutls_x509_crl_t> crls, TrustProfile profile)
    : anchors_(std::move(anchors)), crls_(std::move(crls)), profile_(profile)
{
  for (gnutls_x509_crt_t anchor : anchors_) {
    by_subject_.emplace(raw_subject_of(anchor), anchor);
    by_der_.emplace(der_of(anchor), anchor);
  }
}

std::vector<gnutls_x509_crt_t> TrustAnchors::issuers_of(gnutls_x509_crt_t cert) const
{
  std::vector<gnutls_x509_crt_t> found;
  auto range = by_subject_.equal_range(raw_issuer_of(cert));
  for (auto it = range.first; it != range.second; ++it)
    if (gnutls_x509_crt_check_issuer(cert, it->second))
      found.push_back(it->second);
  // An unordered_multimap keeps no order: give them back in file order.
  std::vector<gnutls_x509_crt_t> ordered;
  if (found.size() > 1) {
    for (gnutls_x509_crt_t anchor : anchors_)
      for (gnutls_x509_crt_t f : found)
        if (f == anchor)
          ordered.push_back(anchor);
    return ordered;
  }
  return found;
}

gnutls_x509_crt_t TrustAnchors::find_der(const std::string &der) const
{
  auto it = by_der_.find(der);
  return it == by_der_.end() ? nullptr : it->second;
}

}  // namespace gtg
