// GtgDatabase: see database.h.
//
// A database's contents live in a TrustStore: the anchors in a GnuTLS trust
// list (which owns them and verifies chains) plus what the GTlsDatabase
// lookups need. A store is built whole, then installed while the database is
// being constructed; after that nothing changes, so no lock is needed.
#include "config.h"

#include "database.h"

#include "certificate.h"
#include "chain_verifier.h"
#include "gtype_macros.h"
#include "trust_anchors.h"

#include <glib/gi18n-lib.h>
#include <gnutls/x509.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace gtg {

class TrustStore {
public:
  // A store without anchors: every chain verifies with UNKNOWN_CA.
  static std::unique_ptr<TrustStore> empty();
  // The system trust store (gnutls_x509_trust_list_add_system_trust).
  static std::unique_ptr<TrustStore> from_system(GError **error);
  // The certificates and CRLs of a PEM file.
  static std::unique_ptr<TrustStore> from_pem_file(const char *path, GError **error);

  gnutls_x509_trust_list_t list() const { return list_.get(); }
  // What chains are verified against: the anchors, the CRLs and the profile
  // (the Web PKI one for the system store). Built on first use, once.
  const TrustAnchors &trust_anchors() const;
  // The anchors, in file order. For the system store they are copied out of
  // the trust list on first use (GnuTLS lends them only as copies), so a
  // process that only verifies never pays for them.
  const std::vector<gnutls_x509_crt_t> &anchors() const;

  // The first anchor that issued `cert` (by name and key identifier), or nullptr.
  gnutls_x509_crt_t find_issuer(gnutls_x509_crt_t cert) const;
  // Every anchor whose raw issuer DN is `raw_dn`, in file order.
  std::vector<gnutls_x509_crt_t> issued_by(const GByteArray *raw_dn) const;
  // The anchor equal to `cert`, or nullptr.
  gnutls_x509_crt_t find_same(gnutls_x509_crt_t cert) const;
  // The handle of an anchor: our prefix and the SHA-256 of its DER, in hex.
  char *handle_for(gnutls_x509_crt_t anchor) const;
  // The anchor a handle names, or nullptr (for handles of anything else too).
  gnutls_x509_crt_t find_by_handle(const char *handle) const;

private:
  TrustStore(Owned<gnutls_x509_trust_list_t> list, std::string handle_prefix)
      : list_(std::move(list)), handle_prefix_(std::move(handle_prefix)) {}
  static std::unique_ptr<TrustStore> create(std::string handle_prefix);
  // Gives `certs` (duplicates dropped) to the trust list, which then owns them.
  void adopt(std::vector<Owned<gnutls_x509_crt_t>> certs);

  Owned<gnutls_x509_trust_list_t> list_;
  // Owned by list_ or, for the system store, by copies_ (filled by the first
  // anchors() call, once, whichever thread makes it).
  mutable std::vector<gnutls_x509_crt_t> anchors_;
  bool anchors_are_copies_ = false;
  mutable std::once_flag copy_once_;
  mutable std::vector<Owned<gnutls_x509_crt_t>> copies_;
  std::string handle_prefix_;
  // Our own copies of the CRLs given to list_, for the path validator.
  std::vector<Owned<gnutls_x509_crl_t>> crls_;
  TrustProfile profile_ = TrustProfile::kPrivate;
  mutable std::once_flag trust_anchors_once_;
  mutable std::unique_ptr<TrustAnchors> trust_anchors_;
};

namespace {

// Handles of the system store look like glib-networking's, so that handles an
// application saved stay valid when it switches backend.
constexpr char kSystemHandlePrefix[] = "system-trust:#";

CharPtr sha256_hex(gnutls_x509_crt_t crt)
{
  std::string der = der_of(crt);
  if (der.empty())
    return nullptr;
  return CharPtr(g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(der.data()), der.size()));
}

}  // namespace

std::unique_ptr<TrustStore> TrustStore::create(std::string handle_prefix)
{
  gnutls_x509_trust_list_t list = nullptr;
  if (gnutls_x509_trust_list_init(&list, 0) < 0)
    return nullptr;
  return std::unique_ptr<TrustStore>(
      new TrustStore(Owned<gnutls_x509_trust_list_t>(list), std::move(handle_prefix)));
}

std::unique_ptr<TrustStore> TrustStore::empty()
{
  return create(kSystemHandlePrefix);
}

void TrustStore::adopt(std::vector<Owned<gnutls_x509_crt_t>> certs)
{
  // Duplicates are found by DER.
  std::unordered_set<std::string> seen;
  std::vector<Owned<gnutls_x509_crt_t>> unique;
  for (Owned<gnutls_x509_crt_t> &cert : certs) {
    if (seen.insert(der_of(cert.get())).second)
      unique.push_back(std::move(cert));
  }
  std::vector<gnutls_x509_crt_t> raw;
  raw.reserve(unique.size());
  for (const Owned<gnutls_x509_crt_t> &u : unique)
    raw.push_back(u.get());
  int added = gnutls_x509_trust_list_add_cas(list_.get(), raw.data(),
                                             static_cast<unsigned>(raw.size()), 0);
  // The list owns what it took; whatever it did not take is freed here.
  for (int i = 0; i < added && static_cast<size_t>(i) < unique.size(); ++i)
    anchors_.push_back(unique[i].release());
}

std::unique_ptr<TrustStore> TrustStore::from_system(GError **error)
{
  gnutls_x509_trust_list_t raw = nullptr;
  if (gnutls_x509_trust_list_init(&raw, 0) < 0) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Could not create a trust list"));
    return nullptr;
  }
  Owned<gnutls_x509_trust_list_t> list(raw);
  int ret = gnutls_x509_trust_list_add_system_trust(list.get(), 0, 0);
  if (ret == GNUTLS_E_UNIMPLEMENTED_FEATURE) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                        _("Could not load the system trust store: GnuTLS was built without one"));
    return nullptr;
  }
  if (ret < 0) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Could not load the system trust store: %s"),
                gnutls_strerror(ret));
    return nullptr;
  }

  g_debug("Loaded %d anchors from the system trust store", ret);
  auto store = std::unique_ptr<TrustStore>(new TrustStore(std::move(list), kSystemHandlePrefix));
  store->anchors_are_copies_ = true;
  store->profile_ = TrustProfile::kWebPki;
  return store;
}

const TrustAnchors &TrustStore::trust_anchors() const
{
  std::call_once(trust_anchors_once_, [this] {
    std::vector<gnutls_x509_crl_t> crls;
    for (const Owned<gnutls_x509_crl_t> &crl : crls_)
      crls.push_back(crl.get());
    trust_anchors_ = std::make_unique<TrustAnchors>(anchors(), std::move(crls), profile_);
  });
  return *trust_anchors_;
}

const std::vector<gnutls_x509_crt_t> &TrustStore::anchors() const
{
  if (anchors_are_copies_) {
    std::call_once(copy_once_, [this] {
      gnutls_x509_trust_list_iter_t iter = nullptr;
      gnutls_x509_crt_t crt = nullptr;
      while (gnutls_x509_trust_list_iter_get_ca(list_.get(), &iter, &crt) == 0) {
        copies_.emplace_back(crt);
        anchors_.push_back(crt);
      }
      if (iter)
        gnutls_x509_trust_list_iter_deinit(iter);
    });
  }
  return anchors_;
}

std::unique_ptr<TrustStore> TrustStore::from_pem_file(const char *path, GError **error)
{
  char *contents_raw = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path, &contents_raw, &length, error))
    return nullptr;
  CharPtr contents(contents_raw);
  CharPtr display(g_filename_display_name(path));
  gnutls_datum_t pem{reinterpret_cast<unsigned char *>(contents.get()), static_cast<unsigned>(length)};

  gnutls_x509_crt_t *crts = nullptr;
  unsigned n_crts = 0;
  int ret = gnutls_x509_crt_list_import2(&crts, &n_crts, &pem, GNUTLS_X509_FMT_PEM, 0);
  if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND || (ret >= 0 && n_crts == 0)) {
    // G_TLS_ERROR_MISC, as glib-networking reports it (GIO names no code;
    // applications written against it check this one).
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("No PEM-encoded certificate found in “%s”"), display.get());
    return nullptr;
  }
  if (ret < 0) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("Could not parse the certificates in “%s”: %s"), display.get(), gnutls_strerror(ret));
    return nullptr;
  }
  std::vector<Owned<gnutls_x509_crt_t>> certs;
  for (unsigned i = 0; i < n_crts; ++i)
    certs.emplace_back(crts[i]);
  gnutls_free(crts);

  CharPtr absolute(g_canonicalize_filename(path, nullptr));
  CharPtr uri(g_filename_to_uri(absolute.get(), nullptr, nullptr));
  std::string prefix = uri ? std::string(uri.get()) + "#" : std::string("file:#");
  std::unique_ptr<TrustStore> store = create(std::move(prefix));
  if (!store) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Could not create a trust list"));
    return nullptr;
  }
  store->adopt(std::move(certs));

  // Revocation lists in the same file apply to the chains verified here.
  if (g_strstr_len(contents.get(), static_cast<gssize>(length), "-----BEGIN X509 CRL")) {
    gnutls_x509_crl_t *crls = nullptr;
    unsigned n_crls = 0;
    ret = gnutls_x509_crl_list_import2(&crls, &n_crls, &pem, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                  _("Could not parse the certificate revocation lists in “%s”: %s"), display.get(),
                  gnutls_strerror(ret));
      return nullptr;
    }
    int added = gnutls_x509_trust_list_add_crls(store->list_.get(), crls, n_crls, 0, 0);
    for (unsigned i = added < 0 ? 0 : static_cast<unsigned>(added); i < n_crls; ++i)
      gnutls_x509_crl_deinit(crls[i]);
    gnutls_free(crls);
    // The trust list keeps its CRLs to itself: the path validator reads a
    // second copy.
    crls = nullptr;
    n_crls = 0;
    if (gnutls_x509_crl_list_import2(&crls, &n_crls, &pem, GNUTLS_X509_FMT_PEM, 0) >= 0) {
      for (unsigned i = 0; i < n_crls; ++i)
        store->crls_.emplace_back(crls[i]);
      gnutls_free(crls);
    }
  }
  return store;
}

gnutls_x509_crt_t TrustStore::find_issuer(gnutls_x509_crt_t cert) const
{
  for (gnutls_x509_crt_t anchor : anchors())
    if (gnutls_x509_crt_check_issuer(cert, anchor))
      return anchor;
  return nullptr;
}

std::vector<gnutls_x509_crt_t> TrustStore::issued_by(const GByteArray *raw_dn) const
{
  std::vector<gnutls_x509_crt_t> issued;
  for (gnutls_x509_crt_t anchor : anchors()) {
    gnutls_datum_t issuer{};
    if (gnutls_x509_crt_get_raw_issuer_dn(anchor, &issuer) < 0)
      continue;
    if (issuer.size == raw_dn->len && memcmp(issuer.data, raw_dn->data, issuer.size) == 0)
      issued.push_back(anchor);
    gnutls_free(issuer.data);
  }
  return issued;
}

gnutls_x509_crt_t TrustStore::find_same(gnutls_x509_crt_t cert) const
{
  std::string der = der_of(cert);
  for (gnutls_x509_crt_t anchor : anchors())
    if (der_of(anchor) == der)
      return anchor;
  return nullptr;
}

char *TrustStore::handle_for(gnutls_x509_crt_t anchor) const
{
  CharPtr hex = sha256_hex(anchor);
  return hex ? g_strconcat(handle_prefix_.c_str(), hex.get(), nullptr) : nullptr;
}

gnutls_x509_crt_t TrustStore::find_by_handle(const char *handle) const
{
  if (!g_str_has_prefix(handle, handle_prefix_.c_str()))
    return nullptr;
  const char *wanted = handle + handle_prefix_.size();
  for (gnutls_x509_crt_t anchor : anchors()) {
    CharPtr hex = sha256_hex(anchor);
    if (hex && g_ascii_strcasecmp(hex.get(), wanted) == 0)
      return anchor;
  }
  return nullptr;
}

}  // namespace gtg

// ---------------------------------------------------------------------------
// The GObject

using gtg::TrustStore;

GTG_DEFINE_TYPE(GtgDatabase, gtg_database, G_TYPE_TLS_DATABASE, 0, GTG_TYPE_NAME("Database"), )

namespace {

TrustStore &store_of(GTlsDatabase *database)
{
  return *G_TYPE_CHECK_INSTANCE_CAST(database, GTG_TYPE_DATABASE, GtgDatabase)->store;
}

void replace_store(GTlsDatabase *database, std::unique_ptr<TrustStore> store)
{
  GtgDatabase *self = G_TYPE_CHECK_INSTANCE_CAST(database, GTG_TYPE_DATABASE, GtgDatabase);
  delete self->store;
  self->store = store.release();
}

// A new GTlsCertificate holding a copy of `crt`.
GTlsCertificate *new_certificate(gnutls_x509_crt_t crt, GError **error)
{
  gtg::GnutlsBuffer der;
  int ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der.out());
  if (ret < 0) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                _("Could not export a certificate of the database: %s"), gnutls_strerror(ret));
    return nullptr;
  }
  return gtg::certificate_new_from_der(der.datum, error);
}

void free_certificate_list(gpointer list) noexcept
{
  g_list_free_full(static_cast<GList *>(list), g_object_unref);
}

}  // namespace

static void gtg_database_init(GtgDatabase *self)
{
  self->store = TrustStore::empty().release();
  if (!self->store)  // gnutls_x509_trust_list_init fails only when memory runs out
    g_error("Could not create a GnuTLS trust list");
}

static void gtg_database_finalize(GObject *object) noexcept
{
  GtgDatabase *self = G_TYPE_CHECK_INSTANCE_CAST(object, GTG_TYPE_DATABASE, GtgDatabase);
  delete self->store;
  self->store = nullptr;
  G_OBJECT_CLASS(gtg_database_parent_class)->finalize(object);
}

// --- verify_chain

static GTlsCertificateFlags gtg_database_verify_chain(GTlsDatabase *database, GTlsCertificate *chain,
                                                      const char *purpose,
                                                      GSocketConnectable *identity,
                                                      GTlsInteraction *, GTlsDatabaseVerifyFlags,
                                                      GCancellable *cancellable,
                                                      GError **error) noexcept
{
  // The anchors are all in memory: there is nothing to ask the interaction.
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  return gtg::verify_chain(store_of(database).trust_anchors(), chain, purpose, identity, nullptr);
}

static void gtg_database_verify_chain_async(GTlsDatabase *database, GTlsCertificate *chain,
                                            const char *purpose, GSocketConnectable *identity,
                                            GTlsInteraction *interaction,
                                            GTlsDatabaseVerifyFlags flags,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data) noexcept
{
  auto task = gtg::Ref<GTask>::adopt(g_task_new(database, cancellable, callback, user_data));
  g_task_set_source_tag(task.get(), reinterpret_cast<gpointer>(gtg_database_verify_chain_async));
  GError *error = nullptr;
  GTlsCertificateFlags result = gtg_database_verify_chain(database, chain, purpose, identity,
                                                          interaction, flags, cancellable, &error);
  if (error)
    g_task_return_error(task.get(), error);
  else
    g_task_return_int(task.get(), result);
}

static GTlsCertificateFlags gtg_database_verify_chain_finish(GTlsDatabase *database,
                                                             GAsyncResult *result,
                                                             GError **error) noexcept
{
  g_return_val_if_fail(g_task_is_valid(result, database), G_TLS_CERTIFICATE_GENERIC_ERROR);
  gssize flags = g_task_propagate_int(G_TASK(result), error);
  return flags < 0 ? G_TLS_CERTIFICATE_GENERIC_ERROR : static_cast<GTlsCertificateFlags>(flags);
}

// --- handles

static char *gtg_database_create_certificate_handle(GTlsDatabase *database,
                                                    GTlsCertificate *certificate) noexcept
{
  gtg::Owned<gnutls_x509_crt_t> storage;
  gnutls_x509_crt_t crt = gtg::x509_of(certificate, &storage);
  if (!crt)
    return nullptr;
  gnutls_x509_crt_t anchor = store_of(database).find_same(crt);
  return anchor ? store_of(database).handle_for(anchor) : nullptr;
}

static GTlsCertificate *gtg_database_lookup_certificate_for_handle(
    GTlsDatabase *database, const char *handle, GTlsInteraction *, GTlsDatabaseLookupFlags flags,
    GCancellable *cancellable, GError **error) noexcept
{
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return nullptr;
  // No certificate here has a private key.
  if (!handle || (flags & G_TLS_DATABASE_LOOKUP_KEYPAIR))
    return nullptr;
  gnutls_x509_crt_t anchor = store_of(database).find_by_handle(handle);
  return anchor ? new_certificate(anchor, error) : nullptr;
}

static void gtg_database_lookup_certificate_for_handle_async(
    GTlsDatabase *database, const char *handle, GTlsInteraction *interaction,
    GTlsDatabaseLookupFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) noexcept
{
  auto task = gtg::Ref<GTask>::adopt(g_task_new(database, cancellable, callback, user_data));
  g_task_set_source_tag(task.get(),
                        reinterpret_cast<gpointer>(gtg_database_lookup_certificate_for_handle_async));
  GError *error = nullptr;
  GTlsCertificate *cert = gtg_database_lookup_certificate_for_handle(database, handle, interaction,
                                                                     flags, cancellable, &error);
  if (error)
    g_task_return_error(task.get(), error);
  else
    g_task_return_pointer(task.get(), cert, g_object_unref);
}

// --- issuer

static GTlsCertificate *gtg_database_lookup_certificate_issuer(
    GTlsDatabase *database, GTlsCertificate *certificate, GTlsInteraction *,
    GTlsDatabaseLookupFlags flags, GCancellable *cancellable, GError **error) noexcept
{
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return nullptr;
  if (flags & G_TLS_DATABASE_LOOKUP_KEYPAIR)
    return nullptr;
  gtg::Owned<gnutls_x509_crt_t> storage;
  gnutls_x509_crt_t crt = gtg::x509_of(certificate, &storage);
  if (!crt) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        _("The certificate could not be parsed"));
    return nullptr;
  }
  gnutls_x509_crt_t issuer = store_of(database).find_issuer(crt);
  return issuer ? new_certificate(issuer, error) : nullptr;
}

static void gtg_database_lookup_certificate_issuer_async(
    GTlsDatabase *database, GTlsCertificate *certificate, GTlsInteraction *interaction,
    GTlsDatabaseLookupFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) noexcept
{
  auto task = gtg::Ref<GTask>::adopt(g_task_new(database, cancellable, callback, user_data));
  g_task_set_source_tag(task.get(),
                        reinterpret_cast<gpointer>(gtg_database_lookup_certificate_issuer_async));
  GError *error = nullptr;
  GTlsCertificate *issuer = gtg_database_lookup_certificate_issuer(database, certificate, interaction,
                                                                   flags, cancellable, &error);
  if (error)
    g_task_return_error(task.get(), error);
  else
    g_task_return_pointer(task.get(), issuer, g_object_unref);
}

// Both single-certificate lookups finish the same way.
static GTlsCertificate *gtg_database_lookup_finish(GTlsDatabase *database, GAsyncResult *result,
                                                   GError **error) noexcept
{
  g_return_val_if_fail(g_task_is_valid(result, database), nullptr);
  return static_cast<GTlsCertificate *>(g_task_propagate_pointer(G_TASK(result), error));
}

// --- issued by

static GList *gtg_database_lookup_certificates_issued_by(GTlsDatabase *database,
                                                         GByteArray *issuer_raw_dn,
                                                         GTlsInteraction *,
                                                         GTlsDatabaseLookupFlags flags,
                                                         GCancellable *cancellable,
                                                         GError **error) noexcept
{
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return nullptr;
  if (!issuer_raw_dn || (flags & G_TLS_DATABASE_LOOKUP_KEYPAIR))
    return nullptr;
  GList *issued = nullptr;
  for (gnutls_x509_crt_t anchor : store_of(database).issued_by(issuer_raw_dn)) {
    GTlsCertificate *cert = new_certificate(anchor, error);
    if (!cert) {
      free_certificate_list(issued);
      return nullptr;
    }
    issued = g_list_prepend(issued, cert);
  }
  return g_list_reverse(issued);
}

static void gtg_database_lookup_certificates_issued_by_async(
    GTlsDatabase *database, GByteArray *issuer_raw_dn, GTlsInteraction *interaction,
    GTlsDatabaseLookupFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) noexcept
{
  auto task = gtg::Ref<GTask>::adopt(g_task_new(database, cancellable, callback, user_data));
  g_task_set_source_tag(task.get(),
                        reinterpret_cast<gpointer>(gtg_database_lookup_certificates_issued_by_async));
  GError *error = nullptr;
  GList *issued = gtg_database_lookup_certificates_issued_by(database, issuer_raw_dn, interaction,
                                                             flags, cancellable, &error);
  if (error)
    g_task_return_error(task.get(), error);
  else
    g_task_return_pointer(task.get(), issued, free_certificate_list);
}

static GList *gtg_database_lookup_certificates_issued_by_finish(GTlsDatabase *database,
                                                                GAsyncResult *result,
                                                                GError **error) noexcept
{
  g_return_val_if_fail(g_task_is_valid(result, database), nullptr);
  return static_cast<GList *>(g_task_propagate_pointer(G_TASK(result), error));
}

static void gtg_database_class_init(GtgDatabaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->finalize = gtg_database_finalize;

  GTlsDatabaseClass *database_class = G_TLS_DATABASE_CLASS(klass);
  database_class->verify_chain = gtg_database_verify_chain;
  database_class->verify_chain_async = gtg_database_verify_chain_async;
  database_class->verify_chain_finish = gtg_database_verify_chain_finish;
  database_class->create_certificate_handle = gtg_database_create_certificate_handle;
  database_class->lookup_certificate_for_handle = gtg_database_lookup_certificate_for_handle;
  database_class->lookup_certificate_for_handle_async =
      gtg_database_lookup_certificate_for_handle_async;
  database_class->lookup_certificate_for_handle_finish = gtg_database_lookup_finish;
  database_class->lookup_certificate_issuer = gtg_database_lookup_certificate_issuer;
  database_class->lookup_certificate_issuer_async = gtg_database_lookup_certificate_issuer_async;
  database_class->lookup_certificate_issuer_finish = gtg_database_lookup_finish;
  database_class->lookup_certificates_issued_by = gtg_database_lookup_certificates_issued_by;
  database_class->lookup_certificates_issued_by_async =
      gtg_database_lookup_certificates_issued_by_async;
  database_class->lookup_certificates_issued_by_finish =
      gtg_database_lookup_certificates_issued_by_finish;
}

// ---------------------------------------------------------------------------
// Internal API

namespace gtg {

GTlsDatabase *database_get_system(void)
{
  static gsize system_database = 0;
  if (g_once_init_enter(&system_database)) {
    auto *database = static_cast<GTlsDatabase *>(g_object_new(GTG_TYPE_DATABASE, nullptr));
    GError *error = nullptr;
    std::unique_ptr<TrustStore> store = TrustStore::from_system(&error);
    if (store) {
      replace_store(database, std::move(store));
    } else {
      g_warning("%s", error->message);
      g_error_free(error);
    }
    // Held for the life of the process: the module is resident.
    g_once_init_leave(&system_database, reinterpret_cast<gsize>(database));
  }
  return static_cast<GTlsDatabase *>(g_object_ref(reinterpret_cast<gpointer>(system_database)));
}

const gnutls_x509_crt_t *database_get_anchors(GTlsDatabase *database, unsigned *out_n)
{
  *out_n = 0;
  if (!G_TYPE_CHECK_INSTANCE_TYPE(database, GTG_TYPE_DATABASE))
    return nullptr;
  const std::vector<gnutls_x509_crt_t> &anchors = store_of(database).anchors();
  *out_n = static_cast<unsigned>(anchors.size());
  return anchors.empty() ? nullptr : anchors.data();
}

bool database_is_own(GTlsDatabase *database)
{
  return G_TYPE_CHECK_INSTANCE_TYPE(database, GTG_TYPE_DATABASE) &&
         G_TLS_DATABASE_GET_CLASS(database)->verify_chain == gtg_database_verify_chain;
}

bool database_load_anchor_file(GTlsDatabase *database, const char *path, GError **error)
{
  g_return_val_if_fail(G_TYPE_CHECK_INSTANCE_TYPE(database, GTG_TYPE_DATABASE), false);
  std::unique_ptr<TrustStore> store = TrustStore::from_pem_file(path, error);
  if (!store)
    return false;
  replace_store(database, std::move(store));
  return true;
}

char *describe_certificate_errors(GTlsCertificate *cert, GTlsCertificateFlags flags,
                                  GSocketConnectable *identity)
{
  return describe_chain_failures(cert, flags, identity);
}

}  // namespace gtg
