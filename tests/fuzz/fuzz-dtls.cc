// Fuzz target: a DTLS client or server fed arbitrary datagrams. The first
// byte picks the scenario, the rest is a sequence of datagrams, each a
// length-prefixed piece (fuzz::Reader::piece), received in order; after the
// last one every receive fails, which ends the handshake with an error.
//   bit 0  0: client, 1: server
//   bit 1  (server) stateless cookie exchange on (the default) or off
//   bit 2  (server) request a client certificate
// The connection runs over an in-memory GDatagramBased, so nothing waits:
// a handshake ends when the datagrams do. The seed corpus holds real
// flights recorded by make-seeds.
#include "fuzz-common.h"

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
  fuzz::init();
  (void)fuzz::server_certificate();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz::Reader in(data, size);
  uint8_t mode = in.byte();
  std::vector<std::string> datagrams;
  while (!in.empty() && datagrams.size() < 64)
    datagrams.push_back(in.piece());

  GDatagramBased *base = fuzz::memory_datagrams(std::move(datagrams));
  GError *error = nullptr;
  GDatagramBased *conn;
  if (mode & 1) {
    conn = g_dtls_server_connection_new(base, fuzz::server_certificate(), &error);
    if (conn) {
      g_object_set(conn, "cookie-exchange", !(mode & 2), nullptr);
      if (mode & 4)
        g_object_set(conn, "authentication-mode", G_TLS_AUTHENTICATION_REQUESTED, nullptr);
    }
  } else {
    GSocketConnectable *identity = g_network_address_new("localhost", 443);
    conn = g_dtls_client_connection_new(base, identity, &error);
    g_object_unref(identity);
  }
  if (!conn)
    g_error("new DTLS connection: %s", error->message);
  g_signal_connect(conn, "accept-certificate",
                   G_CALLBACK(+[](GDtlsConnection *, GTlsCertificate *, GTlsCertificateFlags,
                                  gpointer) noexcept -> gboolean { return TRUE; }),
                   nullptr);

  if (g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), nullptr, &error)) {
    // Read what is left, answer, close.
    for (int i = 0; i < 64; i++) {
      char buf[2048];
      GInputVector v = {buf, sizeof buf};
      GInputMessage m = {nullptr, &v, 1, 0, 0, nullptr, nullptr};
      if (g_datagram_based_receive_messages(conn, &m, 1, 0, 0, nullptr, nullptr) <= 0)
        break;
    }
    GOutputVector v = {"pong", 4};
    GOutputMessage m = {nullptr, &v, 1, 0, nullptr, 0};
    (void)g_datagram_based_send_messages(conn, &m, 1, 0, 0, nullptr, nullptr);
    (void)g_dtls_connection_close(G_DTLS_CONNECTION(conn), nullptr, nullptr);
  } else if (!error) {
    g_error("a DTLS handshake failed without an error");
  }
  g_clear_error(&error);
  g_object_unref(conn);
  g_object_unref(base);
  return 0;
}
