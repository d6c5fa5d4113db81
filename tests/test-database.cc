// Tests of GTlsDatabase and GTlsFileDatabase through the public GIO API:
// the shared system database, file databases and their errors, chain
// verification (order, duplicates, cycles, length, purpose, identity, times,
// revocation), lookups, handles, the async variants (delivered on the
// caller's thread-default context, never synchronously), cancellation, and
// the debug line that names the failed checks.
//
// Test data: tests/files/chains/ (make-chains.sh). GnuTLS is used here only
// to read raw DNs for lookups.
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>

#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

const char *const kServer = G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER;
const char *const kClient = G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT;

std::string chains_path(const char *name)
{
  return std::string(TEST_FILES_DIR "/chains/") + name;
}

GTlsDatabase *load_database(const char *name)
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(chains_path(name).c_str(), &error);
  g_assert_no_error(error);
  g_assert_true(G_IS_TLS_FILE_DATABASE(db));
  return db;
}

// Every certificate of a PEM file, linked in file order (the first is the
// leaf, each next one its `issuer`), whatever their real relations.
GTlsCertificate *load_chain(const char *name)
{
  GError *error = nullptr;
  GList *list = g_tls_certificate_list_new_from_file(chains_path(name).c_str(), &error);
  g_assert_no_error(error);
  g_assert_nonnull(list);
  list = g_list_reverse(list);
  GType type = g_tls_backend_get_certificate_type(g_tls_backend_get_default());
  GTlsCertificate *chain = nullptr;
  for (GList *l = list; l; l = l->next) {
    GByteArray *der = nullptr;
    g_object_get(l->data, "certificate", &der, nullptr);
    auto *next = static_cast<GTlsCertificate *>(
        g_initable_new(type, nullptr, &error, "certificate", der, "issuer", chain, nullptr));
    g_assert_no_error(error);
    g_byte_array_unref(der);
    g_clear_object(&chain);
    chain = next;
  }
  g_list_free_full(list, g_object_unref);
  return chain;
}

GTlsCertificate *load_certificate(const char *name)
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_file(chains_path(name).c_str(), &error);
  g_assert_no_error(error);
  return cert;
}

// "ip:ADDR" is a GInetSocketAddress, "svc:DOMAIN" a GNetworkService,
// "proxy:HOST" a GProxyAddress to HOST, anything else a GNetworkAddress.
GSocketConnectable *make_identity(const char *spec)
{
  if (!spec)
    return nullptr;
  if (g_str_has_prefix(spec, "ip:"))
    return G_SOCKET_CONNECTABLE(g_inet_socket_address_new_from_string(spec + 3, 443));
  if (g_str_has_prefix(spec, "svc:"))
    return g_network_service_new("https", "tcp", spec + 4);
  if (g_str_has_prefix(spec, "proxy:")) {
    GInetAddress *proxy = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *address =
        g_proxy_address_new(proxy, 3128, "http", spec + 6, 443, nullptr, nullptr);
    g_object_unref(proxy);
    return G_SOCKET_CONNECTABLE(address);
  }
  return g_network_address_new(spec, 443);
}

void store_result(GObject *, GAsyncResult *result, gpointer data)
{
  *static_cast<GAsyncResult **>(data) = G_ASYNC_RESULT(g_object_ref(result));
}

// Runs `context` until *slot is set; asserts it was not set synchronously.
GAsyncResult *wait_for(GMainContext *context, GAsyncResult **slot)
{
  g_assert_null(*slot);
  while (!*slot)
    g_main_context_iteration(context, TRUE);
  return *slot;
}

// --- captured debug lines of the module

std::vector<std::string> module_debug_lines;  // guarded by module_debug_lock
GMutex module_debug_lock;

GLogWriterOutput capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                gpointer) noexcept
{
  const char *domain = nullptr;
  const char *message = nullptr;
  for (gsize i = 0; i < n_fields; ++i) {
    if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
      domain = static_cast<const char *>(fields[i].value);
    else if (strcmp(fields[i].key, "MESSAGE") == 0)
      message = static_cast<const char *>(fields[i].value);
  }
  if ((level & G_LOG_LEVEL_DEBUG) && domain && strcmp(domain, "GioTlsGnutls") == 0 && message) {
    [[maybe_unused]] g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&module_debug_lock);
    module_debug_lines.emplace_back(message);
  }
  return g_log_writer_default(level, fields, n_fields, nullptr);
}

// ---------------------------------------------------------------------------
// Verification table: every case runs sync and async.

struct VerifyCase {
  const char *name;
  const char *anchors;
  const char *chain;
  const char *purpose;
  const char *identity;
  unsigned expected;
};

constexpr unsigned kUnknownCa = G_TLS_CERTIFICATE_UNKNOWN_CA;
constexpr unsigned kBadIdentity = G_TLS_CERTIFICATE_BAD_IDENTITY;
constexpr unsigned kNotActivated = G_TLS_CERTIFICATE_NOT_ACTIVATED;
constexpr unsigned kExpired = G_TLS_CERTIFICATE_EXPIRED;
constexpr unsigned kRevoked = G_TLS_CERTIFICATE_REVOKED;
constexpr unsigned kGeneric = G_TLS_CERTIFICATE_GENERIC_ERROR;
constexpr unsigned kInsecure = G_TLS_CERTIFICATE_INSECURE;

const VerifyCase kVerifyCases[] = {
    // Chain shapes.
    {"ordered", "anchors-root.pem", "chain-ordered.pem", kServer, "server.test", 0},
    {"no-identity", "anchors-root.pem", "chain-ordered.pem", kServer, nullptr, 0},
    {"unordered", "anchors-root.pem", "chain-unordered.pem", kServer, "server.test", 0},
    {"duplicates", "anchors-root.pem", "chain-duplicates.pem", kServer, "server.test", 0},
    {"redundant-root", "anchors-root.pem", "chain-redundant-root.pem", kServer, "server.test", 0},
    {"missing-intermediate", "anchors-root.pem", "server.pem", kServer, "server.test", kUnknownCa},
    {"intermediate-anchor", "anchors-several.pem", "server.pem", kServer, "server.test", 0},
    {"duplicate-anchors", "anchors-duplicates.pem", "server.pem", kServer, "server.test", 0},
    {"cycle-untrusted", "anchors-root.pem", "chain-cycle.pem", kServer, "cycle.test", kUnknownCa},
    {"cycle-trusted", "anchors-cycle.pem", "chain-cycle.pem", kServer, "cycle.test", 0},
    {"long", "anchors-root.pem", "chain-long.pem", kServer, "long.test", 0},
    {"huge", "anchors-root.pem", "chain-huge.pem", kServer, "huge.test", 0},
    {"huge-other-name", "anchors-root.pem", "chain-huge.pem", kServer, "name77.huge.test", 0},
    {"huge-bad-name", "anchors-root.pem", "chain-huge.pem", kServer, "name999.huge.test", kBadIdentity},
    {"issuer-not-ca", "anchors-root.pem", "chain-byleaf.pem", kClient, nullptr, kUnknownCa},
    // ...and the client certificate acting as its issuer is not for servers.
    {"issuer-not-ca-purpose", "anchors-root.pem", "chain-byleaf.pem", kServer, "byleaf.test",
     kUnknownCa | kGeneric},
    {"self-signed", "anchors-root.pem", "stranger.pem", kServer, nullptr, kUnknownCa},
    {"wrong-root", "anchors-cycle.pem", "chain-redundant-root.pem", kServer, "server.test", kUnknownCa},
    // Times, revocation.
    {"expired", "anchors-root.pem", "chain-expired.pem", kServer, "expired.test", kExpired},
    {"not-activated", "anchors-root.pem", "chain-future.pem", kServer, "future.test", kNotActivated},
    {"expired-unknown-ca", "anchors-root.pem", "chain-stranger.pem", kServer, "stranger.test",
     kUnknownCa | kExpired},
    {"bad-combo", "anchors-root.pem", "chain-stranger.pem", kServer, "other.test",
     kUnknownCa | kExpired | kBadIdentity},
    {"expired-anchor", "anchors-oldroot.pem", "oldleaf.pem", kServer, "oldleaf.test", kExpired},
    {"revoked", "anchors-root-crl.pem", "chain-revoked.pem", kServer, "revoked.test", kRevoked},
    {"insecure", "anchors-root.pem", "chain-sha1.pem", kServer, "sha1.test",
     G_TLS_CERTIFICATE_INSECURE},
    {"crl-not-revoked", "anchors-root-crl.pem", "chain-ordered.pem", kServer, "server.test", 0},
    // Purpose (extended key usage).
    {"server-as-client", "anchors-root.pem", "chain-ordered.pem", kClient, nullptr, kGeneric},
    {"client-as-server", "anchors-root.pem", "chain-client.pem", kServer, "client.test", kGeneric},
    {"client-as-client", "anchors-root.pem", "chain-client.pem", kClient, nullptr, 0},
    {"intermediate-eku-client", "anchors-root.pem", "chain-srvonly-client.pem", kClient, nullptr,
     kGeneric},
    {"no-eku-server", "anchors-root.pem", "chain-cnonly.pem", kServer, "cnonly.test", 0},
    {"no-eku-client", "anchors-root.pem", "chain-cnonly.pem", kClient, nullptr, 0},
    {"other-purpose", "anchors-root.pem", "chain-ordered.pem", "1.3.6.1.5.5.7.3.3", nullptr, kGeneric},
    {"other-purpose-no-eku", "anchors-root.pem", "chain-cnonly.pem", "1.3.6.1.5.5.7.3.3", nullptr, 0},
    // Identity: DNS names.
    {"dns-case", "anchors-root.pem", "chain-ordered.pem", kServer, "SERVER.Test", 0},
    {"dns-trailing-dot", "anchors-root.pem", "chain-ordered.pem", kServer, "server.test.", 0},
    {"dns-other", "anchors-root.pem", "chain-ordered.pem", kServer, "other.test", kBadIdentity},
    {"dns-suffix", "anchors-root.pem", "chain-ordered.pem", kServer, "xserver.test", kBadIdentity},
    {"service", "anchors-root.pem", "chain-ordered.pem", kServer, "svc:server.test", 0},
    {"proxy-destination", "anchors-root.pem", "chain-ordered.pem", kServer, "proxy:server.test", 0},
    {"wildcard", "anchors-root.pem", "chain-ordered.pem", kServer, "a.wild.test", 0},
    {"wildcard-case", "anchors-root.pem", "chain-ordered.pem", kServer, "A.WILD.test", 0},
    {"wildcard-two-labels", "anchors-root.pem", "chain-ordered.pem", kServer, "a.b.wild.test",
     kBadIdentity},
    {"wildcard-no-label", "anchors-root.pem", "chain-ordered.pem", kServer, "wild.test", kBadIdentity},
    {"wildcard-too-wide", "anchors-root.pem", "chain-ordered.pem", kServer, "foo.test", kBadIdentity},
    {"wildcard-partial", "anchors-root.pem", "chain-ordered.pem", kServer, "foo.partial.test",
     kBadIdentity},
    // Identity: IP addresses.
    {"ipv4", "anchors-root.pem", "chain-ordered.pem", kServer, "ip:192.0.2.1", 0},
    {"ipv4-as-name", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.1", 0},
    {"ipv6", "anchors-root.pem", "chain-ordered.pem", kServer, "ip:2001:db8::1", 0},
    {"ipv6-as-name", "anchors-root.pem", "chain-ordered.pem", kServer, "2001:db8:0::1", 0},
    {"ipv4-other", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.2", kBadIdentity},
    {"ip-no-wildcard", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.5", kBadIdentity},
    {"ip-no-wildcard-absolute", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.5.",
     kBadIdentity},
    {"ipv4-absolute", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.1.", 0},
    {"ipv6-bracketed", "anchors-root.pem", "chain-ordered.pem", kServer, "[2001:db8::1]", 0},
    {"idn", "anchors-root.pem", "chain-ordered.pem", kServer, "b\u00fccher.wild.test", 0},
    {"ip-not-in-dns-name", "anchors-root.pem", "chain-ordered.pem", kServer, "192.0.2.6",
     kBadIdentity},
    {"ip-only", "anchors-root.pem", "chain-iponly.pem", kServer, "ip:192.0.2.7", 0},
    {"ip-no-cn-fallback", "anchors-root.pem", "chain-iponly.pem", kServer, "192.0.2.9", kBadIdentity},
    {"ip-only-dns", "anchors-root.pem", "chain-iponly.pem", kServer, "iponly.test", kBadIdentity},
    // Identity: common name (RFC 6125: only without subjectAltName).
    {"cn-only", "anchors-root.pem", "chain-cnonly.pem", kServer, "cnonly.test", 0},
    {"cn-only-other", "anchors-root.pem", "chain-cnonly.pem", kServer, "other.test", kBadIdentity},
    {"cn-ignored-with-san", "anchors-root.pem", "chain-cnsan.pem", kServer, "cn.test", kBadIdentity},
    {"san-not-cn", "anchors-root.pem", "chain-cnsan.pem", kServer, "san.test", 0},
    // Path building: a root cross-signed by an expired one, the peer's chain
    // in reverse with unrelated certificates, a first candidate that leads to
    // an untrusted CA.
    {"cross-signed", "anchors-cross.pem", "chain-cross.pem", kServer, "cross.test", 0},
    {"cross-signed-reversed", "anchors-cross.pem", "chain-cross-reversed.pem", kServer, "cross.test", 0},
    {"cross-signed-old-root-only", "anchors-cross-old.pem", "chain-cross.pem", kServer, "cross.test",
     kExpired},
    {"backtrack", "anchors-cross.pem", "chain-backtrack.pem", kServer, "cross.test", 0},
    {"backtrack-untrusted", "anchors-root.pem", "chain-backtrack.pem", kServer, "cross.test",
     kUnknownCa},
    {"same-subject-first", "anchors-root.pem", "chain-same-first.pem", kServer, "same.test", 0},
    // Name constraints.
    {"nc-permitted", "anchors-root.pem", "chain-ncok.pem", kServer, "www.example.com", 0},
    {"nc-permitted-ip", "anchors-root.pem", "chain-ncok.pem", kServer, "ip:192.0.2.10", 0},
    {"nc-wildcard-excluded", "anchors-root.pem", "chain-ncwild.pem", kServer, "www.example.com",
     kGeneric},
    {"nc-excluded", "anchors-root.pem", "chain-ncexcl.pem", kServer, "bar.example.com", kGeneric},
    {"nc-not-permitted", "anchors-root.pem", "chain-ncout.pem", kServer, "www.other.test", kGeneric},
    {"nc-ip-not-permitted", "anchors-root.pem", "chain-ncipout.pem", kServer, "ip.example.com",
     kGeneric},
    {"nc-common-name", "anchors-root.pem", "chain-nccnonly.pem", kServer, "cn.other.test", kGeneric},
    {"nc-intermediate-name", "anchors-root.pem", "chain-ncsubleaf.pem", kServer, "www.example.com",
     kGeneric},
    {"nc-below-intermediate", "anchors-root.pem", "chain-ncsubokleaf.pem", kServer,
     "www.example.com", 0},
    {"nc-anchor", "anchors-ncca.pem", "ncwild.pem", kServer, "www.example.com", kGeneric},
    {"nc-not-critical", "anchors-root.pem", "chain-ncsoftleaf.pem", kServer, "www.example.com",
     kGeneric},
    {"nc-uncheckable-form", "anchors-root.pem", "chain-ncurileaf.pem", kServer, "www.example.com",
     kGeneric},
    {"nc-in-leaf", "anchors-root.pem", "chain-ncinleaf.pem", kServer, "www.example.com", kGeneric},
    {"san-leading-dot", "anchors-root.pem", "chain-baddot.pem", kServer, nullptr, kGeneric},
    {"san-ip-range", "anchors-root.pem", "chain-badrange.pem", kServer, nullptr, kGeneric},
    // pathLenConstraint: self-issued intermediates do not count.
    {"pathlen-self-issued", "anchors-root.pem", "chain-pathlen-self-issued.pem", kServer, "pl.test", 0},
    {"pathlen-exceeded", "anchors-root.pem", "chain-pathlen-exceeded.pem", kServer, "pl.test",
     kGeneric},
    // Extensions.
    {"key-cert-sign-not-ca", "anchors-root.pem", "chain-kcsleaf.pem", kServer, "kcs.test", kGeneric},
    {"eku-no-purpose", "anchors-root.pem", "chain-nopurpose.pem", kServer, "nopurpose.test", kGeneric},
    {"unknown-critical", "anchors-root.pem", "chain-unknowncrit.pem", kServer, "unknown.test",
     kGeneric},
    {"empty-subject-san-not-critical", "anchors-root.pem", "chain-emptysubject.pem", kServer,
     "empty.test", kGeneric},
    {"critical-aki", "anchors-root.pem", "chain-critaki.pem", kServer, "aki.test", kGeneric},
    {"critical-aia", "anchors-root.pem", "chain-critaia.pem", kServer, "aia.test", kGeneric},
    {"policy-constraints-not-critical", "anchors-root.pem", "chain-softpc.pem", kServer, "pc.test",
     kGeneric},
    // Key strength.
    {"rsa-2048", "anchors-root.pem", "chain-rsa2048.pem", kServer, "rsa2048.test", 0},
    {"rsa-1024", "anchors-root.pem", "chain-rsa1024.pem", kServer, "rsa1024.test", kInsecure},
    {"dsa", "anchors-root.pem", "chain-dsa.pem", kServer, "dsa.test", kInsecure},
    {"weak-anchor", "anchors-weakroot.pem", "chain-weakrootleaf.pem", kServer, "weakroot.test",
     kInsecure},
};

void test_verify_case(gconstpointer data)
{
  const auto *c = static_cast<const VerifyCase *>(data);
  GTlsDatabase *db = load_database(c->anchors);
  GTlsCertificate *chain = load_chain(c->chain);
  GSocketConnectable *identity = make_identity(c->identity);
  GError *error = nullptr;

  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, c->purpose, identity, nullptr, G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmphex(flags, ==, c->expected);

  // The same through the async API, on a context of our own.
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GAsyncResult *result = nullptr;
  g_tls_database_verify_chain_async(db, chain, c->purpose, identity, nullptr,
                                    G_TLS_DATABASE_VERIFY_NONE, nullptr, store_result, &result);
  flags = g_tls_database_verify_chain_finish(db, wait_for(context, &result), &error);
  g_assert_no_error(error);
  g_assert_cmphex(flags, ==, c->expected);
  g_object_unref(result);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);

  g_clear_object(&identity);
  g_object_unref(chain);
  g_object_unref(db);
}

// 100 intermediates with one subject and distinct keys, without key
// identifiers, the leaf's true issuer last (past what is looked at): the
// verdict comes within a bounded number of signature checks.
void test_same_subject_bounded()
{
  GTlsDatabase *db = load_database("anchors-root.pem");
  GTlsCertificate *chain = load_chain("chain-same-last.pem");
  GSocketConnectable *identity = make_identity("same.test");
  struct timespec start {}, end {};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, kServer, identity, nullptr, G_TLS_DATABASE_VERIFY_NONE, nullptr, nullptr);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &end);
  double ms = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
  g_test_message("100 same-subject intermediates decided in %.1f ms of CPU", ms);
  g_assert_cmphex(flags, ==, kUnknownCa | kGeneric);
  // Generous: about 50 ECDSA verifications on a slow, shared machine.
  g_assert_cmpfloat(ms, <, 500.0);
  g_object_unref(identity);
  g_object_unref(chain);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// The default database

struct SingletonRace {
  GTlsBackend *backend;
  GTlsDatabase *seen[8];
};

gpointer fetch_default_database(gpointer data)
{
  auto *race = static_cast<SingletonRace *>(data);
  GTlsDatabase *db = g_tls_backend_get_default_database(race->backend);
  g_object_unref(db);
  return db;
}

void test_default_singleton()
{
  GTlsBackend *backend = g_tls_backend_get_default();
  GTlsDatabase *a = g_tls_backend_get_default_database(backend);
  GTlsDatabase *b = g_tls_backend_get_default_database(backend);
  g_assert_true(G_IS_TLS_DATABASE(a));
  g_assert_true(a == b);
  g_assert_false(G_IS_TLS_FILE_DATABASE(a));
  g_object_unref(b);

  // Many threads asking at once all get the same object.
  SingletonRace race{backend, {}};
  GThread *threads[8];
  for (GThread *&t : threads)
    t = g_thread_new("db", fetch_default_database, &race);
  for (GThread *t : threads)
    g_assert_true(g_thread_join(t) == a);
  g_object_unref(a);
}

// The first system anchor, as GnuTLS itself loads it (the oracle here);
// nullptr when the machine has no system trust store.
GTlsCertificate *first_system_anchor(GByteArray **out_subject)
{
  gnutls_x509_trust_list_t list;
  g_assert_cmpint(gnutls_x509_trust_list_init(&list, 0), ==, 0);
  if (gnutls_x509_trust_list_add_system_trust(list, 0, 0) <= 0) {
    gnutls_x509_trust_list_deinit(list, 1);
    return nullptr;
  }
  gnutls_x509_trust_list_iter_t iter = nullptr;
  gnutls_x509_crt_t crt = nullptr;
  g_assert_cmpint(gnutls_x509_trust_list_iter_get_ca(list, &iter, &crt), ==, 0);
  gnutls_x509_trust_list_iter_deinit(iter);
  gnutls_datum_t der{}, dn{};
  g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
  g_assert_cmpint(gnutls_x509_crt_get_raw_dn(crt, &dn), ==, 0);
  *out_subject = g_byte_array_new();
  g_byte_array_append(*out_subject, dn.data, dn.size);
  GByteArray *bytes = g_byte_array_new();
  g_byte_array_append(bytes, der.data, der.size);
  GError *error = nullptr;
  GType type = g_tls_backend_get_certificate_type(g_tls_backend_get_default());
  auto *cert = static_cast<GTlsCertificate *>(
      g_initable_new(type, nullptr, &error, "certificate", bytes, nullptr));
  g_assert_no_error(error);
  g_byte_array_unref(bytes);
  gnutls_free(dn.data);
  gnutls_free(der.data);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_trust_list_deinit(list, 1);
  return cert;
}

struct HandleRace {
  GTlsDatabase *db;
  GTlsCertificate *cert;
};

gpointer create_handle(gpointer data)
{
  auto *race = static_cast<HandleRace *>(data);
  return g_tls_database_create_certificate_handle(race->db, race->cert);
}

void test_default_lookups()
{
  GTlsDatabase *db = g_tls_backend_get_default_database(g_tls_backend_get_default());
  GByteArray *subject = nullptr;
  GTlsCertificate *anchor = first_system_anchor(&subject);
  if (!anchor) {
    g_object_unref(db);
    g_test_skip("The system trust store is empty");
    return;
  }

  // Threads race for the first lookup (the anchors are listed on first use).
  HandleRace race{db, anchor};
  GThread *threads[6];
  for (GThread *&t : threads)
    t = g_thread_new("handle", create_handle, &race);
  char *handle = nullptr;
  for (GThread *t : threads) {
    auto *h = static_cast<char *>(g_thread_join(t));
    g_assert_nonnull(h);
    g_assert_true(g_str_has_prefix(h, "system-trust:#"));
    if (handle)
      g_assert_cmpstr(h, ==, handle);
    g_free(handle);
    handle = h;
  }

  GError *error = nullptr;
  GTlsCertificate *found = g_tls_database_lookup_certificate_for_handle(
      db, handle, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(g_tls_certificate_is_same(found, anchor));
  g_object_unref(found);

  GTlsCertificate *issuer = g_tls_database_lookup_certificate_issuer(
      db, anchor, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_nonnull(issuer);
  g_object_unref(issuer);

  GList *issued = g_tls_database_lookup_certificates_issued_by(
      db, subject, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  bool listed = false;
  for (GList *l = issued; l; l = l->next)
    listed = listed || g_tls_certificate_is_same(G_TLS_CERTIFICATE(l->data), anchor);
  g_assert_true(listed);
  g_list_free_full(issued, g_object_unref);

  g_free(handle);
  g_byte_array_unref(subject);
  g_object_unref(anchor);
  g_object_unref(db);
}

void test_default_verify()
{
  GTlsDatabase *db = g_tls_backend_get_default_database(g_tls_backend_get_default());
  GTlsCertificate *chain = load_chain("chain-redundant-root.pem");
  GSocketConnectable *identity = make_identity("server.test");
  GError *error = nullptr;
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, kServer, identity, nullptr, G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmphex(flags, ==, G_TLS_CERTIFICATE_UNKNOWN_CA);

  // Our test root is not in the system store: no handle, no issuer.
  GTlsCertificate *root = load_certificate("root.pem");
  g_assert_null(g_tls_database_create_certificate_handle(db, root));
  GTlsCertificate *issuer = g_tls_database_lookup_certificate_issuer(
      db, root, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_null(issuer);
  g_object_unref(root);
  g_object_unref(identity);
  g_object_unref(chain);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// File databases: construction

void test_file_anchors_property()
{
  std::string path = chains_path("anchors-root.pem");
  GTlsDatabase *db = load_database("anchors-root.pem");
  char *anchors = nullptr;
  g_object_get(db, "anchors", &anchors, nullptr);
  g_assert_cmpstr(anchors, ==, path.c_str());
  g_free(anchors);
  g_object_unref(db);
}

// Other PEM blocks (a private key here) are skipped.
void test_file_with_key()
{
  GTlsDatabase *db = load_database("anchors-key-first.pem");
  GTlsCertificate *chain = load_chain("chain-ordered.pem");
  GError *error = nullptr;
  g_assert_cmphex(g_tls_database_verify_chain(db, chain, kServer, nullptr, nullptr,
                                              G_TLS_DATABASE_VERIFY_NONE, nullptr, &error),
                  ==, 0);
  g_assert_no_error(error);
  g_object_unref(chain);
  g_object_unref(db);
}

// The anchors cannot change once the database exists (it may be shared
// between threads): setting them warns and changes nothing.
void test_file_anchors_fixed()
{
  if (g_test_subprocess()) {
    GTlsDatabase *db = load_database("anchors-root.pem");
    g_object_set(db, "anchors", "/elsewhere.pem", nullptr);
    return;
  }
  g_test_trap_subprocess(nullptr, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed();
  g_test_trap_assert_stderr("*cannot change*");
}

void test_file_missing()
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(chains_path("does-not-exist.pem").c_str(), &error);
  g_assert_null(db);
  g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error(&error);

  db = g_tls_file_database_new(TEST_FILES_DIR "/chains", &error);
  g_assert_null(db);
  g_assert_nonnull(error);
  g_assert_true(error->domain == G_FILE_ERROR);
  g_clear_error(&error);
}

void test_file_garbage()
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(chains_path("garbage.pem").c_str(), &error);
  g_assert_null(db);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_assert_nonnull(strstr(error->message, "garbage.pem"));
  g_clear_error(&error);

  db = g_tls_file_database_new(chains_path("anchors-broken.pem").c_str(), &error);
  g_assert_null(db);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_clear_error(&error);

  db = g_tls_file_database_new(chains_path("anchors-broken-crl.pem").c_str(), &error);
  g_assert_null(db);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_assert_nonnull(strstr(error->message, "revocation"));
  g_clear_error(&error);
}

void test_file_no_anchors()
{
  GType type = g_tls_backend_get_file_database_type(g_tls_backend_get_default());
  GError *error = nullptr;
  gpointer db = g_initable_new(type, nullptr, &error, nullptr);
  g_assert_null(db);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC);
  g_clear_error(&error);
}

void test_file_relative_path()
{
  char *cwd = g_get_current_dir();
  g_assert_cmpint(g_chdir(TEST_FILES_DIR "/chains"), ==, 0);
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new("anchors-root.pem", &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_chdir(cwd), ==, 0);
  g_free(cwd);

  GTlsCertificate *root = load_certificate("root.pem");
  char *handle = g_tls_database_create_certificate_handle(db, root);
  g_assert_true(g_str_has_prefix(handle, "file:///"));
  g_free(handle);
  g_object_unref(root);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Lookups and handles

GByteArray *raw_dn(const char *name, bool issuer)
{
  GTlsCertificate *cert = load_certificate(name);
  GByteArray *der = nullptr;
  g_object_get(cert, "certificate", &der, nullptr);
  g_object_unref(cert);
  gnutls_x509_crt_t crt;
  g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
  gnutls_datum_t datum{der->data, der->len};
  g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER), ==, 0);
  gnutls_datum_t dn{};
  g_assert_cmpint(issuer ? gnutls_x509_crt_get_raw_issuer_dn(crt, &dn) : gnutls_x509_crt_get_raw_dn(crt, &dn),
                  ==, 0);
  GByteArray *out = g_byte_array_new();
  g_byte_array_append(out, dn.data, dn.size);
  gnutls_free(dn.data);
  gnutls_x509_crt_deinit(crt);
  g_byte_array_unref(der);
  return out;
}

bool same_as_file(GTlsCertificate *cert, const char *name)
{
  GTlsCertificate *expected = load_certificate(name);
  bool same = g_tls_certificate_is_same(cert, expected);
  g_object_unref(expected);
  return same;
}

void test_lookup_issuer()
{
  GTlsDatabase *db = load_database("anchors-several.pem");
  GError *error = nullptr;

  GTlsCertificate *server = load_certificate("server.pem");
  GTlsCertificate *issuer = g_tls_database_lookup_certificate_issuer(
      db, server, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_nonnull(issuer);
  g_assert_true(same_as_file(issuer, "inter.pem"));
  // The two are not hooked into a chain.
  g_assert_null(g_tls_certificate_get_issuer(server));
  g_assert_null(g_tls_certificate_get_issuer(issuer));

  // Async, on our own context.
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GAsyncResult *result = nullptr;
  g_tls_database_lookup_certificate_issuer_async(db, issuer, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                 nullptr, store_result, &result);
  GTlsCertificate *root =
      g_tls_database_lookup_certificate_issuer_finish(db, wait_for(context, &result), &error);
  g_assert_no_error(error);
  g_assert_true(same_as_file(root, "root.pem"));
  g_clear_object(&result);

  // Not found: NULL without error, sync and async.
  GTlsCertificate *stranger = load_certificate("strangerleaf.pem");
  g_assert_null(g_tls_database_lookup_certificate_issuer(db, stranger, nullptr,
                                                         G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error));
  g_assert_no_error(error);
  g_tls_database_lookup_certificate_issuer_async(db, stranger, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                 nullptr, store_result, &result);
  g_assert_null(
      g_tls_database_lookup_certificate_issuer_finish(db, wait_for(context, &result), &error));
  g_assert_no_error(error);
  g_clear_object(&result);

  // No private keys here.
  g_assert_null(g_tls_database_lookup_certificate_issuer(
      db, server, nullptr, G_TLS_DATABASE_LOOKUP_KEYPAIR, nullptr, &error));
  g_assert_no_error(error);

  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
  g_object_unref(stranger);
  g_object_unref(root);
  g_object_unref(issuer);
  g_object_unref(server);
  g_object_unref(db);
}

void test_lookup_issued_by()
{
  GTlsDatabase *db = load_database("anchors-several.pem");
  GError *error = nullptr;

  GByteArray *inter_dn = raw_dn("inter.pem", false);
  GList *issued = g_tls_database_lookup_certificates_issued_by(
      db, inter_dn, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_list_length(issued), ==, 3);
  g_assert_true(same_as_file(G_TLS_CERTIFICATE(issued->data), "server.pem"));
  g_assert_true(same_as_file(G_TLS_CERTIFICATE(issued->next->data), "client.pem"));
  g_assert_true(same_as_file(G_TLS_CERTIFICATE(issued->next->next->data), "cnonly.pem"));
  g_list_free_full(issued, g_object_unref);

  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GByteArray *root_dn = raw_dn("root.pem", false);
  GAsyncResult *result = nullptr;
  g_tls_database_lookup_certificates_issued_by_async(db, root_dn, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                     nullptr, store_result, &result);
  issued = g_tls_database_lookup_certificates_issued_by_finish(db, wait_for(context, &result), &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_list_length(issued), ==, 2);  // the root itself and the intermediate
  g_list_free_full(issued, g_object_unref);
  g_clear_object(&result);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);

  // Duplicates in the file count once.
  GTlsDatabase *dups = load_database("anchors-duplicates.pem");
  issued = g_tls_database_lookup_certificates_issued_by(dups, root_dn, nullptr,
                                                        G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_list_length(issued), ==, 2);
  g_list_free_full(issued, g_object_unref);
  g_object_unref(dups);

  // A DN nobody has, garbage, and the keypair flag: nothing, no error.
  GByteArray *stranger_dn = raw_dn("stranger.pem", false);
  g_assert_null(g_tls_database_lookup_certificates_issued_by(
      db, stranger_dn, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error));
  g_assert_no_error(error);
  GByteArray *garbage = g_byte_array_new();
  g_byte_array_append(garbage, reinterpret_cast<const guint8 *>("\x30\x03junk"), 6);
  g_assert_null(g_tls_database_lookup_certificates_issued_by(
      db, garbage, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error));
  g_assert_no_error(error);
  g_assert_null(g_tls_database_lookup_certificates_issued_by(
      db, inter_dn, nullptr, G_TLS_DATABASE_LOOKUP_KEYPAIR, nullptr, &error));
  g_assert_no_error(error);

  g_byte_array_unref(garbage);
  g_byte_array_unref(stranger_dn);
  g_byte_array_unref(root_dn);
  g_byte_array_unref(inter_dn);
  g_object_unref(db);
}

void test_handles()
{
  GTlsDatabase *db = load_database("anchors-several.pem");
  GError *error = nullptr;

  GTlsCertificate *client = load_certificate("client.pem");
  char *handle = g_tls_database_create_certificate_handle(db, client);
  g_assert_nonnull(handle);
  g_assert_true(g_str_has_prefix(handle, "file:///"));

  GTlsCertificate *found = g_tls_database_lookup_certificate_for_handle(
      db, handle, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(g_tls_certificate_is_same(found, client));
  g_object_unref(found);

  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GAsyncResult *result = nullptr;
  g_tls_database_lookup_certificate_for_handle_async(db, handle, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                     nullptr, store_result, &result);
  found = g_tls_database_lookup_certificate_for_handle_finish(db, wait_for(context, &result), &error);
  g_assert_no_error(error);
  g_assert_true(g_tls_certificate_is_same(found, client));
  g_object_unref(found);
  g_clear_object(&result);

  // The handle of one database means nothing to another.
  GTlsDatabase *other = load_database("anchors-root.pem");
  g_assert_null(g_tls_database_lookup_certificate_for_handle(
      other, handle, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error));
  g_assert_no_error(error);
  g_object_unref(other);

  // Unknown and malformed handles: NULL, no error, sync and async.
  std::string wrong_hash(handle);
  wrong_hash.back() = wrong_hash.back() == '0' ? '1' : '0';
  for (const char *bad : {"blah:blah", "", wrong_hash.c_str(), "file:///#"}) {
    g_assert_null(g_tls_database_lookup_certificate_for_handle(
        db, bad, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, &error));
    g_assert_no_error(error);
    g_tls_database_lookup_certificate_for_handle_async(db, bad, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                       nullptr, store_result, &result);
    g_assert_null(
        g_tls_database_lookup_certificate_for_handle_finish(db, wait_for(context, &result), &error));
    g_assert_no_error(error);
    g_clear_object(&result);
  }
  g_assert_null(g_tls_database_lookup_certificate_for_handle(
      db, handle, nullptr, G_TLS_DATABASE_LOOKUP_KEYPAIR, nullptr, &error));
  g_assert_no_error(error);

  // A certificate that is not in the database has no handle.
  GTlsCertificate *stranger = load_certificate("stranger.pem");
  g_assert_null(g_tls_database_create_certificate_handle(db, stranger));
  g_object_unref(stranger);

  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
  g_free(handle);
  g_object_unref(client);
  g_object_unref(db);
}

// ---------------------------------------------------------------------------
// Async delivery, cancellation, interaction, the debug line

void test_async_delivery()
{
  GTlsDatabase *db = load_database("anchors-root.pem");
  GTlsCertificate *chain = load_chain("chain-ordered.pem");

  // Called from a thread with its own thread-default context: the result
  // arrives there, on that thread, only once the context runs.
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GAsyncResult *result = nullptr;
  g_tls_database_verify_chain_async(db, chain, kServer, nullptr, nullptr,
                                    G_TLS_DATABASE_VERIFY_NONE, nullptr, store_result, &result);
  g_assert_null(result);
  // The global default context does not deliver it.
  while (g_main_context_iteration(nullptr, FALSE)) {
  }
  g_assert_null(result);
  GError *error = nullptr;
  g_assert_cmphex(g_tls_database_verify_chain_finish(db, wait_for(context, &result), &error), ==, 0);
  g_assert_no_error(error);
  g_object_unref(result);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);

  g_object_unref(chain);
  g_object_unref(db);
}

void test_cancelled()
{
  GTlsDatabase *db = load_database("anchors-several.pem");
  GTlsCertificate *chain = load_chain("chain-ordered.pem");
  GCancellable *cancellable = g_cancellable_new();
  g_cancellable_cancel(cancellable);
  GError *error = nullptr;

  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE, cancellable, &error);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmphex(flags, ==, G_TLS_CERTIFICATE_GENERIC_ERROR);
  g_clear_error(&error);

  g_assert_null(g_tls_database_lookup_certificate_issuer(db, chain, nullptr,
                                                         G_TLS_DATABASE_LOOKUP_NONE, cancellable,
                                                         &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error(&error);

  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  GAsyncResult *result = nullptr;
  g_tls_database_verify_chain_async(db, chain, kServer, nullptr, nullptr,
                                    G_TLS_DATABASE_VERIFY_NONE, cancellable, store_result, &result);
  flags = g_tls_database_verify_chain_finish(db, wait_for(context, &result), &error);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmphex(flags, ==, G_TLS_CERTIFICATE_GENERIC_ERROR);
  g_clear_error(&error);
  g_clear_object(&result);

  GByteArray *dn = raw_dn("inter.pem", false);
  g_tls_database_lookup_certificates_issued_by_async(db, dn, nullptr, G_TLS_DATABASE_LOOKUP_NONE,
                                                     cancellable, store_result, &result);
  g_assert_null(g_tls_database_lookup_certificates_issued_by_finish(db, wait_for(context, &result),
                                                                    &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error(&error);
  g_clear_object(&result);
  g_byte_array_unref(dn);

  g_tls_database_lookup_certificate_for_handle_async(db, "blah", nullptr,
                                                     G_TLS_DATABASE_LOOKUP_NONE, cancellable,
                                                     store_result, &result);
  g_assert_null(g_tls_database_lookup_certificate_for_handle_finish(db, wait_for(context, &result),
                                                                    &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error(&error);
  g_clear_object(&result);

  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
  g_object_unref(cancellable);
  g_object_unref(chain);
  g_object_unref(db);
}

void test_interaction()
{
  GTlsDatabase *db = load_database("anchors-root.pem");
  GTlsCertificate *chain = load_chain("chain-ordered.pem");
  GTlsInteraction *interaction = G_TLS_INTERACTION(g_object_new(G_TYPE_TLS_INTERACTION, nullptr));
  GError *error = nullptr;
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, kServer, nullptr, interaction, G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_assert_cmphex(flags, ==, 0);
  g_object_unref(interaction);
  g_object_unref(chain);
  g_object_unref(db);
}

struct SharedVerify {
  GTlsDatabase *db;
  GTlsCertificate *good;
  GTlsCertificate *bad;
};

gpointer verify_many(gpointer data)
{
  auto *shared = static_cast<SharedVerify *>(data);
  GSocketConnectable *identity = make_identity("server.test");
  for (int i = 0; i < 25; ++i) {
    g_assert_cmphex(g_tls_database_verify_chain(shared->db, shared->good, kServer, identity, nullptr,
                                                G_TLS_DATABASE_VERIFY_NONE, nullptr, nullptr),
                    ==, 0);
    g_assert_cmphex(g_tls_database_verify_chain(shared->db, shared->bad, kServer, identity, nullptr,
                                                G_TLS_DATABASE_VERIFY_NONE, nullptr, nullptr),
                    ==, kUnknownCa | kExpired | kBadIdentity);
  }
  g_object_unref(identity);
  return nullptr;
}

// One database and the same certificates used from several threads at once.
void test_threads()
{
  SharedVerify shared{load_database("anchors-root.pem"), load_chain("chain-unordered.pem"),
                      load_chain("chain-stranger.pem")};
  GThread *threads[4];
  for (GThread *&t : threads)
    t = g_thread_new("verify", verify_many, &shared);
  for (GThread *t : threads)
    g_thread_join(t);
  g_object_unref(shared.bad);
  g_object_unref(shared.good);
  g_object_unref(shared.db);
}

bool debug_line_contains(const std::vector<const char *> &needles)
{
  for (const std::string &line : module_debug_lines) {
    bool all = true;
    for (const char *n : needles)
      all = all && line.find(n) != std::string::npos;
    if (all)
      return true;
  }
  return false;
}

void test_debug_detail()
{
  GTlsDatabase *db = load_database("anchors-root.pem");
  GSocketConnectable *identity = make_identity("other.test");
  GError *error = nullptr;

  module_debug_lines.clear();
  GTlsCertificate *chain = load_chain("chain-stranger.pem");
  g_tls_database_verify_chain(db, chain, kServer, identity, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  // One line names each certificate and what failed for it.
  g_assert_true(debug_line_contains({"CN=stranger.test", "expired on 2002-01-01", "other.test",
                                     "CN=Stranger CA", "self-signed"}));
  g_object_unref(chain);

  module_debug_lines.clear();
  chain = load_chain("chain-srvonly-client.pem");
  g_tls_database_verify_chain(db, chain, kClient, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(debug_line_contains({"CN=Server-only CA", "authenticate a client"}));
  g_assert_false(debug_line_contains({"CN=srvonly-client.test"}));
  g_object_unref(chain);

  module_debug_lines.clear();
  GTlsDatabase *crl_db = load_database("anchors-root-crl.pem");
  chain = load_chain("chain-revoked.pem");
  g_tls_database_verify_chain(crl_db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(debug_line_contains({"CN=revoked.test", "revoked"}));
  g_assert_false(debug_line_contains({"CN=Test Intermediate CA"}));
  g_object_unref(chain);
  g_object_unref(crl_db);

  module_debug_lines.clear();
  chain = load_chain("chain-sha1.pem");
  g_tls_database_verify_chain(db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(debug_line_contains({"CN=sha1.test", "insecure algorithm"}));
  g_assert_false(debug_line_contains({"CN=Test Intermediate CA"}));
  g_object_unref(chain);

  module_debug_lines.clear();
  chain = load_chain("chain-byleaf.pem");
  g_tls_database_verify_chain(db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(debug_line_contains({"CN=byleaf.test", "not allowed to issue"}));
  g_object_unref(chain);

  module_debug_lines.clear();
  GTlsDatabase *old_db = load_database("anchors-oldroot.pem");
  chain = load_chain("oldleaf.pem");
  g_tls_database_verify_chain(old_db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(debug_line_contains({"CN=Expired Root CA", "expired on 2002-01-01"}));
  g_assert_false(debug_line_contains({"CN=oldleaf.test"}));
  g_object_unref(chain);
  g_object_unref(old_db);

  // A good chain logs no rejection.
  module_debug_lines.clear();
  chain = load_chain("chain-ordered.pem");
  g_tls_database_verify_chain(db, chain, kServer, nullptr, nullptr, G_TLS_DATABASE_VERIFY_NONE,
                              nullptr, &error);
  g_assert_false(debug_line_contains({"rejected"}));
  g_object_unref(chain);

  g_object_unref(identity);
  g_object_unref(db);
}

}  // namespace

int main(int argc, char **argv)
{
  g_log_set_writer_func(capture_writer, nullptr, nullptr);
  g_test_init(&argc, &argv, nullptr);

  g_test_add_func("/database/default/singleton", test_default_singleton);
  g_test_add_func("/database/default/lookups", test_default_lookups);
  g_test_add_func("/database/default/verify", test_default_verify);
  g_test_add_func("/database/file/anchors-property", test_file_anchors_property);
  g_test_add_func("/database/file/anchors-fixed", test_file_anchors_fixed);
  g_test_add_func("/database/file/with-key", test_file_with_key);
  g_test_add_func("/database/file/missing", test_file_missing);
  g_test_add_func("/database/file/garbage", test_file_garbage);
  g_test_add_func("/database/file/no-anchors", test_file_no_anchors);
  g_test_add_func("/database/file/relative-path", test_file_relative_path);
  for (const VerifyCase &c : kVerifyCases) {
    char *path = g_strconcat("/database/verify/", c.name, nullptr);
    g_test_add_data_func(path, &c, test_verify_case);
    g_free(path);
  }
  g_test_add_func("/database/verify-bounded/same-subject", test_same_subject_bounded);
  g_test_add_func("/database/lookup/issuer", test_lookup_issuer);
  g_test_add_func("/database/lookup/issued-by", test_lookup_issued_by);
  g_test_add_func("/database/lookup/handles", test_handles);
  g_test_add_func("/database/async/delivery", test_async_delivery);
  g_test_add_func("/database/cancelled", test_cancelled);
  g_test_add_func("/database/interaction", test_interaction);
  g_test_add_func("/database/threads", test_threads);
  g_test_add_func("/database/debug-detail", test_debug_detail);
  return g_test_run();
}
