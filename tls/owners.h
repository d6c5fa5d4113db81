// Typed owners for every C handle this module holds.
//
// Each GnuTLS and GLib handle type has exactly one deleter registered here;
// `Owned<T>` is a std::unique_ptr using it. GObject references are held in
// `Ref<T>`, which never takes a reference implicitly: `Ref<T>::adopt(p)` takes
// over a reference the caller already owns, `Ref<T>::retain(p)` adds one.
// Header only; used from every thread the module runs on.
#pragma once

#include "config.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/ocsp.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace gtg {

template <typename T> struct Deleter;

#define GTG_DEFINE_DELETER(Handle, free_fn)                                      \
  template <> struct Deleter<std::remove_pointer_t<Handle>> {                   \
    void operator()(Handle p) const noexcept { free_fn(p); }                    \
  }

GTG_DEFINE_DELETER(gnutls_x509_crt_t, gnutls_x509_crt_deinit);
GTG_DEFINE_DELETER(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit);
GTG_DEFINE_DELETER(gnutls_privkey_t, gnutls_privkey_deinit);
GTG_DEFINE_DELETER(gnutls_pkcs11_obj_t, gnutls_pkcs11_obj_deinit);
GTG_DEFINE_DELETER(gnutls_pkcs12_t, gnutls_pkcs12_deinit);
GTG_DEFINE_DELETER(gnutls_x509_trust_list_t, [](gnutls_x509_trust_list_t l) { gnutls_x509_trust_list_deinit(l, 1); });
GTG_DEFINE_DELETER(gnutls_certificate_credentials_t, gnutls_certificate_free_credentials);
GTG_DEFINE_DELETER(gnutls_session_t, gnutls_deinit);
GTG_DEFINE_DELETER(gnutls_priority_t, gnutls_priority_deinit);
GTG_DEFINE_DELETER(gnutls_psk_client_credentials_t, gnutls_psk_free_client_credentials);
GTG_DEFINE_DELETER(gnutls_psk_server_credentials_t, gnutls_psk_free_server_credentials);
GTG_DEFINE_DELETER(gnutls_x509_crl_t, gnutls_x509_crl_deinit);
GTG_DEFINE_DELETER(gnutls_ocsp_resp_t, gnutls_ocsp_resp_deinit);
GTG_DEFINE_DELETER(GError *, g_error_free);
GTG_DEFINE_DELETER(GBytes *, g_bytes_unref);
GTG_DEFINE_DELETER(GByteArray *, g_byte_array_unref);
GTG_DEFINE_DELETER(GSource *, [](GSource *s) { g_source_destroy(s); g_source_unref(s); });
GTG_DEFINE_DELETER(GMainContext *, g_main_context_unref);
GTG_DEFINE_DELETER(char *, g_free);
GTG_DEFINE_DELETER(char **, g_strfreev);

template <typename Handle>
using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, Deleter<std::remove_pointer_t<Handle>>>;

using ErrorPtr = Owned<GError *>;
using CharPtr = Owned<char *>;

// A gnutls_datum_t whose data GnuTLS allocated; freed with gnutls_free.
struct GnutlsBuffer {
  gnutls_datum_t datum{nullptr, 0};
  GnutlsBuffer() = default;
  GnutlsBuffer(const GnutlsBuffer &) = delete;
  GnutlsBuffer &operator=(const GnutlsBuffer &) = delete;
  ~GnutlsBuffer() { gnutls_free(datum.data); }
  gnutls_datum_t *operator&() = delete;
  gnutls_datum_t *out() { gnutls_free(datum.data); datum = {nullptr, 0}; return &datum; }
};

// A strong GObject reference. Never refs implicitly.
template <typename T> class Ref {
public:
  Ref() = default;
  Ref(std::nullptr_t) {}
  static Ref adopt(T *p) noexcept { Ref r; r.ptr_ = p; return r; }
  static Ref retain(T *p) noexcept { Ref r; r.ptr_ = p ? static_cast<T *>(g_object_ref(p)) : nullptr; return r; }
  Ref(const Ref &) = delete;
  Ref &operator=(const Ref &) = delete;
  Ref(Ref &&o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)) {}
  Ref &operator=(Ref &&o) noexcept { if (this != &o) { reset(); ptr_ = std::exchange(o.ptr_, nullptr); } return *this; }
  ~Ref() { reset(); }
  void reset() noexcept { if (T *p = std::exchange(ptr_, nullptr)) g_object_unref(p); }
  T *get() const noexcept { return ptr_; }
  T *operator->() const noexcept { return ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  // Hands the reference to the caller (for (transfer full) returns).
  T *release() noexcept { return std::exchange(ptr_, nullptr); }
  Ref copy() const noexcept { return retain(ptr_); }

private:
  T *ptr_ = nullptr;
};

}  // namespace gtg
