// The module's messages under a translated locale: for each shipped
// translation, two error paths (a PEM certificate GnuTLS cannot parse, a
// trust-anchor file without certificates) must produce the translated text.
//
// Each case runs in a child process (g_test_trap_subprocess) so that the
// child starts with LANGUAGE set to one language: glibc caches translations
// per locale, not per LANGUAGE value, so switching languages inside one
// process is unreliable.
//
// Where the translations come from: the module binds its gettext domain to
// the install prefix's locale directory when GIO loads it. Under `meson test`
// GTG_TEST_LOCALEDIR names the build's po/ output instead, and the test
// rebinds the domain there after the module has loaded. Installed tests leave
// it unset and so check the installed .mo files.
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <clocale>
#include <cstring>
#include <libintl.h>
#include <string>
#include <unistd.h>

namespace {

const char kDomain[] = "gio-tls-gnutls";

// A PEM block whose base64 decodes to text, not to a certificate.
const char kGarbagePem[] = "-----BEGIN CERTIFICATE-----\n"
                           "Tm90IGEgY2VydGlmaWNhdGUgYXQgYWxsLg==\n"
                           "-----END CERTIFICATE-----\n";

struct Language {
  const char *code;
  // The translated start of "Could not parse PEM certificate: %s" (the %s is
  // GnuTLS's reason, translated or not by GnuTLS itself).
  const char *pem_prefix;
  // The translated start of "No PEM-encoded certificate found in “%s”".
  const char *anchors_prefix;
};

const Language kLanguages[] = {
    {"de", "PEM-Zertifikat konnte nicht gelesen werden: ",
     "Kein PEM-kodiertes Zertifikat in „"},
    {"fr", "Impossible d’analyser le certificat PEM\u00a0: ",
     "Aucun certificat encodé en PEM trouvé dans «\u00a0"},
    {"es", "No se pudo analizar el certificado PEM: ",
     "No se encontró ningún certificado codificado en PEM en «"},
};

// Loads the module (which binds its text domain) and, under `meson test`,
// points the domain at the build tree's compiled catalogues.
void load_module_translations()
{
  GTlsBackend *backend = g_tls_backend_get_default();
  const char *expected = g_getenv("GTG_BACKEND_NAME");
  std::string type_name = G_OBJECT_TYPE_NAME(backend);
  if (expected) {
    std::string camel = expected;
    camel[0] = static_cast<char>(g_ascii_toupper(camel[0]));
    std::string expected_type = "GTlsBackend" + camel;
    g_assert_cmpstr(type_name.c_str(), ==, expected_type.c_str());
  }
  if (const char *dir = g_getenv("GTG_TEST_LOCALEDIR"))
    bindtextdomain(kDomain, dir);
  bind_textdomain_codeset(kDomain, "UTF-8");
}

void check_certificate_pem(const Language &lang)
{
  load_module_translations();
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_pem(kGarbagePem, -1, &error);
  g_assert_null(cert);
  g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_test_message("%s: %s", lang.code, error->message);
  if (!g_str_has_prefix(error->message, lang.pem_prefix))
    g_error("expected a message starting with \"%s\", got \"%s\"", lang.pem_prefix,
            error->message);
  g_error_free(error);
}

void check_anchor_file(const Language &lang)
{
  load_module_translations();
  GError *error = nullptr;
  char *path = nullptr;
  int fd = g_file_open_tmp("gtg-i18n-XXXXXX.pem", &path, &error);
  g_assert_no_error(error);
  const char text[] = "This file holds no certificate.\n";
  g_assert_cmpint(write(fd, text, sizeof text - 1), ==, static_cast<int>(sizeof text - 1));
  close(fd);

  GTlsDatabase *db = g_tls_file_database_new(path, &error);
  g_assert_null(db);
  g_assert_nonnull(error);
  g_test_message("%s: %s", lang.code, error->message);
  if (!g_str_has_prefix(error->message, lang.anchors_prefix))
    g_error("expected a message starting with \"%s\", got \"%s\"", lang.anchors_prefix,
            error->message);
  g_error_free(error);
  g_unlink(path);
  g_free(path);
}

// The parent half of every case: run this same test in a child whose
// environment selects the language, and require that it passed.
template <void (*Check)(const Language &)>
void run_in_language(gconstpointer data)
{
  const auto *lang = static_cast<const Language *>(data);
  if (g_test_subprocess()) {
    Check(*lang);
    return;
  }
  g_setenv("LANGUAGE", lang->code, TRUE);
  g_test_trap_subprocess(nullptr, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed();
}

}  // namespace

int main(int argc, char **argv)
{
  // gettext ignores LANGUAGE in the "C" locale. C.UTF-8 always exists on
  // glibc, so use it when the environment names no other locale.
  setlocale(LC_ALL, "");
  const char *messages = setlocale(LC_MESSAGES, nullptr);
  if (!messages || std::strcmp(messages, "C") == 0 || std::strcmp(messages, "POSIX") == 0)
    setlocale(LC_ALL, "C.UTF-8");

  g_test_init(&argc, &argv, nullptr);
  for (const Language &lang : kLanguages) {
    std::string base = std::string("/i18n/") + lang.code;
    g_test_add_data_func((base + "/certificate-pem").c_str(), &lang,
                         run_in_language<check_certificate_pem>);
    g_test_add_data_func((base + "/anchor-file").c_str(), &lang,
                         run_in_language<check_anchor_file>);
  }
  return g_test_run();
}
