// Fuzz targets: a TLS client (fuzz-tls-client) or a TLS server
// (fuzz-tls-server, built with FUZZ_TLS_SERVER=1) fed arbitrary bytes from
// its peer. The first byte picks the scenario, the rest is what the peer
// sends:
//   bit 0 clear  the handshake: the connection runs over an in-memory
//                GIOStream whose input is the peer's bytes then end-of-file;
//                after a handshake that succeeds, it reads, writes, closes.
//   bit 0 set    after a completed handshake: a real client and server
//                handshake over a UNIX socket pair, then the bytes go raw
//                into the socket under the fuzzed side, which reads them as
//                records until end-of-file or an error, then writes and
//                closes.
//   bit 1 set    (server) request a client certificate; (client) present one.
// The seed corpus holds real first flights recorded by make-seeds.
#include "fuzz-common.h"

#ifndef FUZZ_TLS_SERVER
#define FUZZ_TLS_SERVER 0
#endif

namespace {

GTlsCertificate *client_certificate()
{
  static GTlsCertificate *cert = [] {
    GError *error = nullptr;
    GTlsCertificate *c = g_tls_certificate_new_from_files(
        fuzz::data_path("client.pem").c_str(), fuzz::data_path("client-key.pem").c_str(), &error);
    if (!c)
      g_error("client certificate: %s", error->message);
    return c;
  }();
  return cert;
}

GTlsConnection *new_client(GIOStream *base, bool with_certificate)
{
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  GError *error = nullptr;
  GIOStream *conn = g_tls_client_connection_new(base, identity, &error);
  g_object_unref(identity);
  if (!conn)
    g_error("g_tls_client_connection_new: %s", error->message);
  fuzz::accept_any_certificate(G_TLS_CONNECTION(conn));
  if (with_certificate)
    g_tls_connection_set_certificate(G_TLS_CONNECTION(conn), client_certificate());
  return G_TLS_CONNECTION(conn);
}

GTlsConnection *new_server(GIOStream *base, bool request_certificate)
{
  GError *error = nullptr;
  GIOStream *conn = g_tls_server_connection_new(base, fuzz::server_certificate(), &error);
  if (!conn)
    g_error("g_tls_server_connection_new: %s", error->message);
  fuzz::accept_any_certificate(G_TLS_CONNECTION(conn));
  if (request_certificate)
    g_object_set(conn, "authentication-mode", G_TLS_AUTHENTICATION_REQUESTED, nullptr);
  return G_TLS_CONNECTION(conn);
}

// What an application does with a connection once it has one: read, answer,
// close. Errors are the expected outcome of garbage, and are dropped.
void use(GTlsConnection *conn)
{
  fuzz::drain(G_IO_STREAM(conn), 1 << 20);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  (void)g_output_stream_write_all(out, "pong", 4, nullptr, nullptr, nullptr);
  (void)g_io_stream_close(G_IO_STREAM(conn), nullptr, nullptr);
}

void fuzz_handshake(const std::string &peer_bytes, bool option)
{
  GIOStream *base = fuzz::memory_stream(peer_bytes);
  GTlsConnection *conn = FUZZ_TLS_SERVER ? new_server(base, option) : new_client(base, option);
  GError *error = nullptr;
  if (g_tls_connection_handshake(conn, nullptr, &error))
    use(conn);
  else if (!error)
    g_error("a handshake failed without an error");
  g_clear_error(&error);
  g_object_unref(conn);
  g_object_unref(base);
}

void fuzz_after_handshake(const std::string &peer_bytes, bool option)
{
  GIOStream *client_base = nullptr, *server_base = nullptr;
  fuzz::socket_pair(&client_base, &server_base);
  GTlsConnection *client = new_client(client_base, !FUZZ_TLS_SERVER && option);
  GTlsConnection *server = new_server(server_base, FUZZ_TLS_SERVER && option);
  if (!fuzz::handshake_pair(client, server))
    g_error("the loopback handshake failed");
  // The fuzzed side's peer goes quiet; the bytes arrive as if it sent them.
  if (FUZZ_TLS_SERVER) {
    fuzz::inject_and_shutdown(client_base, peer_bytes);
    use(server);
  } else {
    fuzz::inject_and_shutdown(server_base, peer_bytes);
    use(client);
  }
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(client_base);
  g_object_unref(server_base);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  fuzz::init();
  (void)fuzz::server_certificate();
  (void)client_certificate();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz::Reader in(data, size);
  uint8_t mode = in.byte();
  std::string peer_bytes = in.rest();
  if (peer_bytes.size() > (1 << 16))
    peer_bytes.resize(1 << 16);
  if (mode & 1)
    fuzz_after_handshake(peer_bytes, mode & 2);
  else
    fuzz_handshake(peer_bytes, mode & 2);
  return 0;
}
