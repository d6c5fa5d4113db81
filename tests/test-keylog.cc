// SSLKEYLOGFILE: GnuTLS writes the session secrets of our connections to
// the file it names (NSS key log format), so that Wireshark can decrypt a
// capture. GnuTLS reads the variable on first use, so the test sets it
// before any handshake.
#include "connection-harness.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#include <cstring>

#include <string>

using namespace conn_test;

namespace {

std::string keylog_path;

void test_keylog_written()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    handshake_both_ok(pair);
  }
  g_object_unref(cert);
  g_object_unref(db);

  char *contents = nullptr;
  g_assert_true(g_file_get_contents(keylog_path.c_str(), &contents, nullptr, nullptr));
  // TLS 1.3 secrets, or the TLS 1.2 master secret.
  g_assert_true(strstr(contents, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") != nullptr ||
                strstr(contents, "CLIENT_RANDOM ") != nullptr);
  g_free(contents);
}

}  // namespace

int main(int argc, char **argv)
{
  char *dir = g_dir_make_tmp("gtg-keylog-XXXXXX", nullptr);
  g_assert_nonnull(dir);
  keylog_path = std::string(dir) + "/keys.log";
  g_setenv("SSLKEYLOGFILE", keylog_path.c_str(), TRUE);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/keylog/written", test_keylog_written);
  int result = g_test_run();
  g_unlink(keylog_path.c_str());
  g_rmdir(dir);
  g_free(dir);
  return result;
}
