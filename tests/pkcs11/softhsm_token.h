// A SoftHSM token for the PKCS#11 tests, set up from scratch in a temporary
// directory (SOFTHSM2_CONF points there) and removed afterwards.
//
// SoftHsmToken::create() initialises a token labelled "gtg-test" (user PIN
// 1234), imports tests/files/server-key-pkcs8.pem as a private key and
// tests/files/server.pem as a public certificate, both labelled "server"
// with id 01, and makes SoftHSM the only PKCS#11 module GnuTLS uses. It must
// run before anything makes GnuTLS load its PKCS#11 modules on its own (that
// is, before the TLS backend is first used). Test-process code, main thread.
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>

#include <memory>
#include <string>

class SoftHsmToken {
public:
  static constexpr const char *kModule = "/usr/lib/softhsm/libsofthsm2.so";
  static constexpr const char *kLabel = "gtg-test";
  static constexpr const char *kPin = "1234";
  static constexpr const char *kCertUri = "pkcs11:token=gtg-test;object=server;type=cert";
  static constexpr const char *kKeyUri = "pkcs11:token=gtg-test;object=server;type=private";

  // nullptr when SoftHSM or its tools are not installed; aborts the test
  // program when they are installed but the token cannot be set up.
  static std::unique_ptr<SoftHsmToken> create(const std::string &files_dir)
  {
    if (!g_file_test(kModule, G_FILE_TEST_EXISTS) || !have_program("softhsm2-util") ||
        !have_program("p11tool"))
      return nullptr;
    GError *error = nullptr;
    char *dir = g_dir_make_tmp("gtg-softhsm-XXXXXX", &error);
    g_assert_no_error(error);
    std::unique_ptr<SoftHsmToken> token(new SoftHsmToken(dir));
    g_free(dir);

    std::string tokens = token->dir_ + "/tokens";
    g_assert_cmpint(g_mkdir(tokens.c_str(), 0700), ==, 0);
    std::string conf = token->dir_ + "/softhsm2.conf";
    std::string conf_text =
        "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n";
    g_file_set_contents(conf.c_str(), conf_text.c_str(), -1, &error);
    g_assert_no_error(error);
    g_setenv("SOFTHSM2_CONF", conf.c_str(), TRUE);

    std::string key = files_dir + "/server-key-pkcs8.pem";
    std::string cert = files_dir + "/server.pem";
    std::string token_uri = std::string("pkcs11:token=") + kLabel;
    const char *init[] = {"softhsm2-util", "--init-token", "--free",   "--label", kLabel,
                          "--pin",         kPin,           "--so-pin", "5678",    nullptr};
    const char *import_key[] = {
        "softhsm2-util", "--import", key.c_str(), "--token", kLabel, "--label",
        "server",        "--id",     "01",        "--pin",   kPin,   nullptr};
    const char *import_cert[] = {"p11tool",
                                 "--provider",
                                 kModule,
                                 "--login",
                                 "--write",
                                 "--no-mark-private",
                                 "--load-certificate",
                                 cert.c_str(),
                                 "--label",
                                 "server",
                                 "--id",
                                 "01",
                                 token_uri.c_str(),
                                 nullptr};
    g_assert_true(run(init, nullptr));
    g_assert_true(run(import_key, nullptr));
    g_assert_true(run(import_cert, kPin));  // p11tool reads the PIN from GNUTLS_PIN

    g_assert_cmpint(gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, nullptr), ==, GNUTLS_E_SUCCESS);
    g_assert_cmpint(gnutls_pkcs11_add_provider(kModule, nullptr), ==, GNUTLS_E_SUCCESS);
    return token;
  }

  SoftHsmToken(const SoftHsmToken &) = delete;
  SoftHsmToken &operator=(const SoftHsmToken &) = delete;
  ~SoftHsmToken()
  {
    const char *rm[] = {"rm", "-rf", dir_.c_str(), nullptr};
    run(rm, nullptr);
  }

private:
  explicit SoftHsmToken(std::string dir) : dir_(std::move(dir)) {}

  static bool have_program(const char *name)
  {
    char *path = g_find_program_in_path(name);
    g_free(path);
    return path != nullptr;
  }

  // Runs argv (searched in PATH); with `pin`, GNUTLS_PIN is set for it.
  static bool run(const char *const *argv, const char *pin)
  {
    char **envp = g_get_environ();
    if (pin)
      envp = g_environ_setenv(envp, "GNUTLS_PIN", pin, TRUE);
    int status = 0;
    GError *error = nullptr;
    char *out = nullptr;
    char *err = nullptr;
    gboolean spawned = g_spawn_sync(nullptr, const_cast<char **>(argv), envp, G_SPAWN_SEARCH_PATH,
                                    nullptr, nullptr, &out, &err, &status, &error);
    g_strfreev(envp);
    bool ok = spawned && g_spawn_check_wait_status(status, nullptr);
    if (!ok)
      g_printerr("# %s failed: %s %s\n", argv[0], error ? error->message : "", err ? err : "");
    g_clear_error(&error);
    g_free(out);
    g_free(err);
    return ok;
  }

  std::string dir_;
};
