// Fuzz target: GTlsFileDatabase anchors and chain verification. The input
// is two length-prefixed pieces and a tail:
//   piece 1  the anchors file (PEM), written to a temporary file and opened
//            with g_tls_file_database_new
//   piece 2  the peer identity (a host name or address; empty: none)
//   tail     the chain (PEM: leaf first, then whatever issuers the peer sent)
// The chain is verified for both purposes, its issuers looked up, and each
// certificate's handle round-tripped through the database. Verification
// must end, whatever cycles or lengths the chain and anchors have.
#include "fuzz-common.h"

#include <glib/gstdio.h>
#include <unistd.h>

namespace {

std::string anchors_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  fuzz::init();
  anchors_path = std::string(g_get_tmp_dir()) + "/fuzz-verify-anchors-" +
                 std::to_string(getpid()) + ".pem";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz::Reader in(data, size);
  std::string anchors = in.piece();
  std::string host = in.piece();
  std::string chain_pem = in.rest();

  GError *error = nullptr;
  if (!g_file_set_contents(anchors_path.c_str(), anchors.data(), gssize(anchors.size()), &error))
    g_error("writing %s: %s", anchors_path.c_str(), error->message);
  GTlsDatabase *db = g_tls_file_database_new(anchors_path.c_str(), &error);
  g_unlink(anchors_path.c_str());
  if (!db) {
    g_clear_error(&error);
    return 0;
  }

  GTlsCertificate *chain =
      g_tls_certificate_new_from_pem(chain_pem.data(), gssize(chain_pem.size()), nullptr);
  if (chain) {
    GSocketConnectable *identity = nullptr;
    if (!host.empty() && g_utf8_validate(host.data(), gssize(host.size()), nullptr) &&
        host.find('\0') == std::string::npos)
      identity = g_network_address_new(host.c_str(), 443);
    for (const char *purpose :
         {G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT}) {
      (void)g_tls_database_verify_chain(db, chain, purpose, identity, nullptr,
                                        G_TLS_DATABASE_VERIFY_NONE, nullptr, &error);
      g_clear_error(&error);
    }
    int depth = 0;
    for (GTlsCertificate *c = chain; c && depth < 64;
         c = g_tls_certificate_get_issuer(c), depth++) {
      GTlsCertificate *issuer = g_tls_database_lookup_certificate_issuer(
          db, c, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, nullptr);
      g_clear_object(&issuer);
      char *handle = g_tls_database_create_certificate_handle(db, c);
      if (handle) {
        GTlsCertificate *found = g_tls_database_lookup_certificate_for_handle(
            db, handle, nullptr, G_TLS_DATABASE_LOOKUP_NONE, nullptr, nullptr);
        g_clear_object(&found);
        g_free(handle);
      }
    }
    g_clear_object(&identity);
    g_object_unref(chain);
  }
  g_object_unref(db);
  return 0;
}
