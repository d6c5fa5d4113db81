// Stapled OCSP responses, checked by our client against gnutls-serv, which
// staples a response generated for the test by `openssl ocsp`: a good
// response passes, a revoked one sets G_TLS_CERTIFICATE_REVOKED, one signed
// by a stranger sets G_TLS_CERTIFICATE_GENERIC_ERROR. (A must-staple
// certificate without a staple is glib-networking's oscp/must-staple test,
// run in the peer suite.)
#include "connection-harness.h"
#include "test-peers.h"

#include <gio/gio.h>

#include <string>

using namespace conn_test;

namespace {

std::string workdir;

// Runs `script` with sh in the work directory; false when it fails.
bool run_shell(const std::string &script)
{
  const char *argv[] = {"sh", "-ec", script.c_str(), nullptr};
  int status = 0;
  GError *error = nullptr;
  bool ok = g_spawn_sync(workdir.c_str(), const_cast<char **>(argv), nullptr, G_SPAWN_SEARCH_PATH,
                         nullptr, nullptr, nullptr, nullptr, &status, &error) &&
            g_spawn_check_wait_status(status, nullptr);
  g_clear_error(&error);
  return ok;
}

// Writes good.der, revoked.der and stranger.der: OCSP responses about
// tests/files/server.pem, signed by its issuer (the last by the root).
bool make_responses()
{
  std::string f = data_path("");
  std::string script =
      "F='" + f + "'\n"
      "serial=$(openssl x509 -in \"$F/server.pem\" -noout -serial | cut -d= -f2)\n"
      "subj=$(openssl x509 -in \"$F/server.pem\" -noout -subject -nameopt compat | sed 's/subject=//')\n"
      "printf 'V\\t491231235959Z\\t\\t%s\\tunknown\\t%s\\n' \"$serial\" \"$subj\" > good.txt\n"
      "printf 'R\\t491231235959Z\\t240101000000Z\\t%s\\tunknown\\t%s\\n' \"$serial\" \"$subj\" > revoked.txt\n"
      "openssl ocsp -issuer \"$F/intermediate-ca.pem\" -cert \"$F/server.pem\" -reqout req.der -no_nonce\n"
      "for k in good revoked; do\n"
      "  openssl ocsp -index $k.txt -rsigner \"$F/intermediate-ca.pem\" -rkey \"$F/intermediate-ca-key.pem\" "
      "-CA \"$F/intermediate-ca.pem\" -reqin req.der -respout $k.der -ndays 2\n"
      "done\n"
      "openssl ocsp -index good.txt -rsigner \"$F/ca.pem\" -rkey \"$F/ca-key.pem\" "
      "-CA \"$F/intermediate-ca.pem\" -reqin req.der -respout stranger.der -ndays 2\n";
  return run_shell(script + " >/dev/null 2>&1");
}

gboolean record_errors(GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags errors,
                       gpointer data) noexcept
{
  *static_cast<GTlsCertificateFlags *>(data) = errors;
  return FALSE;
}

// Connects our client to gnutls-serv stapling `response`; returns the
// errors accept-certificate saw (0 if it was not emitted) and whether the
// handshake succeeded.
bool handshake_with_staple(const char *response, GTlsCertificateFlags *out_errors)
{
  std::string program;
  g_assert_true(have_program("gnutls-serv", &program));
  guint16 port = free_port();
  PeerProcess peer({program, "--port", std::to_string(port), "--echo", "--disable-client-cert",
                    "--x509certfile", data_path("server-chain.pem"), "--x509keyfile",
                    data_path("server-key.pem"), "--ocsp-response", workdir + "/" + response,
                    "--ignore-ocsp-response-errors"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  GTlsDatabase *db = ca_database();
  GIOStream *base = connect_loopback(port);
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  *out_errors = GTlsCertificateFlags(0);
  g_signal_connect(client, "accept-certificate", G_CALLBACK(record_errors), out_errors);
  Watchdog watchdog(20000);
  GError *error = nullptr;
  bool ok = g_tls_connection_handshake(client, watchdog.cancellable(), &error);
  if (!ok)
    g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_clear_error(&error);
  g_io_stream_close(G_IO_STREAM(client), nullptr, nullptr);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(base);
  g_object_unref(db);
  return ok;
}

bool prerequisites()
{
  std::string program;
  if (!have_program("gnutls-serv", &program) || !have_program("openssl", &program)) {
    g_test_skip("gnutls-serv or openssl is not installed");
    return false;
  }
  if (!make_responses()) {
    g_test_skip("openssl could not make the OCSP responses");
    return false;
  }
  return true;
}

void test_good()
{
  if (!prerequisites())
    return;
  GTlsCertificateFlags errors;
  g_assert_true(handshake_with_staple("good.der", &errors));
  g_assert_cmpuint(errors, ==, 0);
}

void test_revoked()
{
  if (!prerequisites())
    return;
  GTlsCertificateFlags errors;
  g_assert_false(handshake_with_staple("revoked.der", &errors));
  g_assert_cmpuint(errors, ==, G_TLS_CERTIFICATE_REVOKED);
}

void test_wrong_signer()
{
  if (!prerequisites())
    return;
  GTlsCertificateFlags errors;
  g_assert_false(handshake_with_staple("stranger.der", &errors));
  g_assert_cmpuint(errors, ==, G_TLS_CERTIFICATE_GENERIC_ERROR);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  char *dir = g_dir_make_tmp("gtg-ocsp-XXXXXX", nullptr);
  g_assert_nonnull(dir);
  workdir = dir;
  g_test_add_func("/ocsp/stapled/good", test_good);
  g_test_add_func("/ocsp/stapled/revoked", test_revoked);
  g_test_add_func("/ocsp/stapled/wrong-signer", test_wrong_signer);
  int result = g_test_run();
  std::string cleanup = "rm -rf '" + workdir + "'";
  run_shell(cleanup);
  g_free(dir);
  return result;
}
