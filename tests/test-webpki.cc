// Tests of the Web PKI profile (CA/Browser Forum Baseline Requirements) that
// chains anchored in the system trust store get, through the public GIO API.
//
// The system store is replaced for this process only: in a mount namespace
// of its own, a file holding Debian's real bundle plus tests/files/chains/
// webroot.pem is bind-mounted over /etc/ssl/certs/ca-certificates.crt (where
// GnuTLS reads the system trust) before GIO loads the module. That needs
// root; otherwise every test is skipped with a message saying so.
//
// Each case verifies the same chain through the default database (the Web
// PKI profile) and through a GTlsFileDatabase holding the same root (RFC 5280
// alone): a private PKI must keep working. The safety test checks that every
// root of Debian's bundle is accepted as an anchor by both profiles.
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <string>

namespace {

constexpr char kSystemBundle[] = "/etc/ssl/certs/ca-certificates.crt";
const char *const kServer = G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER;
constexpr unsigned kGeneric = G_TLS_CERTIFICATE_GENERIC_ERROR;
constexpr unsigned kBadIdentity = G_TLS_CERTIFICATE_BAD_IDENTITY;

std::string skip_reason;    // empty when the system store was replaced
std::string real_bundle;    // the bundle as it was, for the safety test

std::string chains_path(const char *name)
{
  return std::string(TEST_FILES_DIR "/chains/") + name;
}

// Replaces the system store; sets skip_reason when it cannot.
void replace_system_store()
{
  if (getuid() != 0) {
    skip_reason = "replacing the system trust store needs root (a mount namespace)";
    return;
  }
  char *bundle = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(kSystemBundle, &bundle, &length, nullptr)) {
    skip_reason = std::string("no system trust bundle at ") + kSystemBundle;
    return;
  }
  real_bundle.assign(bundle, length);
  g_free(bundle);
  char *root = nullptr;
  g_assert_true(g_file_get_contents(chains_path("webroot.pem").c_str(), &root, nullptr, nullptr));
  std::string replacement = real_bundle + "\n" + root;
  g_free(root);

  char *path = nullptr;
  int fd = g_file_open_tmp("gtg-webpki-XXXXXX.crt", &path, nullptr);
  g_assert_cmpint(fd, >=, 0);
  close(fd);
  g_assert_true(g_file_set_contents(path, replacement.c_str(), -1, nullptr));
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount(path, kSystemBundle, nullptr, MS_BIND, nullptr) != 0) {
    skip_reason = std::string("could not bind-mount over the system trust store: ") + g_strerror(errno);
  }
  g_unlink(path);  // the mount keeps the file alive
  g_free(path);
}

GTlsCertificate *load_chain(const char *name)
{
  GError *error = nullptr;
  GList *list = g_tls_certificate_list_new_from_file(chains_path(name).c_str(), &error);
  g_assert_no_error(error);
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

GTlsCertificateFlags verify(GTlsDatabase *db, GTlsCertificate *chain, const char *purpose,
                            const char *host)
{
  GSocketConnectable *identity = host ? g_network_address_new(host, 443) : nullptr;
  GError *error = nullptr;
  GTlsCertificateFlags flags = g_tls_database_verify_chain(
      db, chain, purpose, identity, nullptr, G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
  g_assert_no_error(error);
  g_clear_object(&identity);
  return flags;
}

struct WebCase {
  const char *name;
  const char *chain;
  const char *identity;
  unsigned web_pki;   // through the system store
  unsigned private_;  // through a GTlsFileDatabase with the same root
};

const WebCase kCases[] = {
    {"conforming", "chain-webok.pem", "web.test", 0, 0},
    {"no-eku", "chain-webnoeku.pem", "web.test", kGeneric, 0},
    {"any-eku", "chain-webanyeku.pem", "web.test", kGeneric, 0},
    {"cn-not-in-san", "chain-webcn.pem", "web.test", kGeneric, 0},
    {"cn-only", "chain-webcnonly.pem", "web.test", kGeneric | kBadIdentity, 0},
    {"wildcard-public-suffix", "chain-webpsl.pem", "foo.co.uk", kGeneric, 0},
    {"underscore", "chain-webunderscore.pem", nullptr, kGeneric, 0},
};

void test_case(gconstpointer data)
{
  if (!skip_reason.empty()) {
    g_test_skip(skip_reason.c_str());
    return;
  }
  const auto *c = static_cast<const WebCase *>(data);
  GTlsDatabase *system = g_tls_backend_get_default_database(g_tls_backend_get_default());
  GError *error = nullptr;
  GTlsDatabase *file = g_tls_file_database_new(chains_path("webroot.pem").c_str(), &error);
  g_assert_no_error(error);
  GTlsCertificate *chain = load_chain(c->chain);
  g_assert_cmphex(verify(system, chain, kServer, c->identity), ==, c->web_pki);
  g_assert_cmphex(verify(file, chain, kServer, c->identity), ==, c->private_);
  g_object_unref(chain);
  g_object_unref(file);
  g_object_unref(system);
}

// Every root of Debian's bundle is accepted as an anchor by both profiles
// (an expired one still reports EXPIRED; nothing else may be reported).
void test_every_public_root()
{
  if (!skip_reason.empty()) {
    g_test_skip(skip_reason.c_str());
    return;
  }
  char *path = nullptr;
  int fd = g_file_open_tmp("gtg-bundle-XXXXXX.crt", &path, nullptr);
  g_assert_cmpint(fd, >=, 0);
  close(fd);
  g_assert_true(g_file_set_contents(path, real_bundle.c_str(), -1, nullptr));
  GError *error = nullptr;
  GList *roots = g_tls_certificate_list_new_from_file(path, &error);
  g_assert_no_error(error);
  GTlsDatabase *file = g_tls_file_database_new(path, &error);
  g_assert_no_error(error);
  GTlsDatabase *system = g_tls_backend_get_default_database(g_tls_backend_get_default());
  unsigned checked = 0, rejected = 0;
  for (GList *l = roots; l; l = l->next) {
    auto *root = G_TLS_CERTIFICATE(l->data);
    for (GTlsDatabase *db : {system, file}) {
      unsigned flags = verify(db, root, kServer, nullptr) & ~G_TLS_CERTIFICATE_EXPIRED;
      if (flags != 0) {
        char *subject = g_tls_certificate_get_subject_name(root);
        g_test_message("rejected root %s: flags 0x%x", subject, flags);
        g_free(subject);
        ++rejected;
      }
    }
    ++checked;
  }
  g_assert_cmpuint(rejected, ==, 0);
  g_test_message("%u public roots accepted by both profiles", checked);
  g_assert_cmpuint(checked, >, 0);
  g_object_unref(system);
  g_object_unref(file);
  g_list_free_full(roots, g_object_unref);
  g_unlink(path);
  g_free(path);
}

}  // namespace

int main(int argc, char **argv)
{
  replace_system_store();
  g_test_init(&argc, &argv, nullptr);
  for (const WebCase &c : kCases) {
    std::string path = std::string("/webpki/verify/") + c.name;
    g_test_add_data_func(path.c_str(), &c, test_case);
  }
  g_test_add_func("/webpki/every-public-root", test_every_public_root);
  return g_test_run();
}
