// SubjectAltNames: the parsed subjectAltName extension of one certificate.
//
// A small owner of GnuTLS's gnutls_subject_alt_names_t, used by the identity
// check, the name-constraint checks and the Web PKI profile on the verifying
// thread. Values are GnuTLS's raw forms: DNS names and e-mail addresses as
// bytes, IP addresses as 4 or 16 bytes (or whatever the certificate holds),
// directory names as DER.
#pragma once

#include "owners.h"

#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include <string_view>

namespace gtg {

class SubjectAltNames {
public:
  explicit SubjectAltNames(gnutls_x509_crt_t crt)
  {
    GnutlsBuffer ext;
    unsigned critical = 0;
    if (gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_X509EXT_OID_SAN, 0, ext.out(), &critical) < 0)
      return;
    present_ = true;
    critical_ = critical != 0;
    if (gnutls_subject_alt_names_init(&names_) < 0) {
      names_ = nullptr;
      return;
    }
    if (gnutls_x509_ext_import_subject_alt_names(&ext.datum, names_, 0) < 0) {
      gnutls_subject_alt_names_deinit(names_);
      names_ = nullptr;
    }
  }
  SubjectAltNames(const SubjectAltNames &) = delete;
  SubjectAltNames &operator=(const SubjectAltNames &) = delete;
  ~SubjectAltNames()
  {
    if (names_)
      gnutls_subject_alt_names_deinit(names_);
  }

  // Whether the certificate has the extension at all, whether it is
  // critical, and whether GnuTLS could parse it.
  bool present() const { return present_; }
  bool critical() const { return critical_; }
  bool parsed() const { return names_ != nullptr; }

  // Calls fn(type, value) for each name, in order.
  template <typename Fn> void for_each(Fn &&fn) const
  {
    if (!names_)
      return;
    for (unsigned i = 0;; ++i) {
      unsigned type = 0;
      gnutls_datum_t value{};
      if (gnutls_subject_alt_names_get(names_, i, &type, &value, nullptr) < 0)
        break;
      fn(type, std::string_view(reinterpret_cast<const char *>(value.data), value.size));
    }
  }

  // The number of names.
  unsigned size() const
  {
    unsigned n = 0;
    for_each([&n](unsigned, std::string_view) { ++n; });
    return n;
  }

private:
  gnutls_subject_alt_names_t names_ = nullptr;
  bool present_ = false;
  bool critical_ = false;
};

}  // namespace gtg
