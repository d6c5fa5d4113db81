// Writes the seed corpora of the fuzz targets into the directory given as
// the first argument (tests/fuzz/corpus): for the TLS and DTLS targets, real
// first flights recorded from our own client and server over the in-memory
// transports; for the parsing targets, the test files in tests/files. Run by
// tests/fuzz/make-seeds.sh, once per protocol version (the second argument is
// a suffix for the recorded files; G_TLS_GNUTLS_PRIORITY picks the version).
#include "fuzz-common.h"

#include <cstdio>

namespace {

std::string dir;
std::string suffix;

void write_seed(const char *target, const std::string &name, uint8_t mode, const std::string &body)
{
  std::string path = dir + "/" + target;
  g_mkdir_with_parents(path.c_str(), 0755);
  path += "/" + name;
  std::string data(1, static_cast<char>(mode));
  data += body;
  GError *error = nullptr;
  if (!g_file_set_contents(path.c_str(), data.data(), gssize(data.size()), &error))
    g_error("%s", error->message);
}

std::string file(const char *name)
{
  char *contents = nullptr;
  gsize len = 0;
  GError *error = nullptr;
  if (!g_file_get_contents(fuzz::data_path(name).c_str(), &contents, &len, &error))
    g_error("%s", error->message);
  std::string out(contents, len);
  g_free(contents);
  return out;
}

std::string piece(const std::string &data)
{
  std::string out;
  fuzz::append_piece(out, data);
  return out;
}

// Runs `conn`'s handshake over its in-memory base until the input runs out;
// returns what it sent.
std::string first_flight(GTlsConnection *conn, GIOStream *base)
{
  (void)g_tls_connection_handshake(conn, nullptr, nullptr);
  return fuzz::memory_stream_output(base);
}

void tls_seeds()
{
  GSocketConnectable *identity = g_network_address_new("localhost", 443);

  // The client's hello: what the server target parses first.
  GIOStream *base = fuzz::memory_stream("");
  GIOStream *client = g_tls_client_connection_new(base, identity, nullptr);
  std::string hello = first_flight(G_TLS_CONNECTION(client), base);
  g_object_unref(client);
  g_object_unref(base);
  write_seed("tls-server", "client-hello" + suffix, 0, hello);
  write_seed("tls-server", "client-hello-request-cert" + suffix, 2, hello);

  // The server's answer to it: what the client target parses first.
  base = fuzz::memory_stream(hello);
  GIOStream *server = g_tls_server_connection_new(base, fuzz::server_certificate(), nullptr);
  std::string answer = first_flight(G_TLS_CONNECTION(server), base);
  g_object_unref(server);
  g_object_unref(base);
  write_seed("tls-client", "server-flight" + suffix, 0, answer);
  g_object_unref(identity);
}

void tls_record_seeds()
{
  // After the handshake: records that are well-formed on the outside.
  const std::string app_data("\x17\x03\x03\x00\x05hello", 10);
  const std::string alert("\x15\x03\x03\x00\x02\x02\x28", 7);
  const std::string handshake("\x16\x03\x03\x00\x04\x00\x00\x00\x00", 9);
  for (const char *target : {"tls-client", "tls-server"}) {
    write_seed(target, "after-app-data", 1, app_data);
    write_seed(target, "after-alert", 1, alert);
    write_seed(target, "after-handshake-record", 1, handshake + app_data);
  }
}

std::vector<std::string> sent_after_handshake(GDatagramBased *conn, GDatagramBased *base)
{
  (void)g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), nullptr, nullptr);
  return fuzz::memory_datagrams_sent(base);
}

std::string pieces(const std::vector<std::string> &datagrams)
{
  std::string out;
  for (const std::string &d : datagrams)
    fuzz::append_piece(out, d);
  return out;
}

void dtls_seeds()
{
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  GDatagramBased *base = fuzz::memory_datagrams({});
  GDatagramBased *client = g_dtls_client_connection_new(base, identity, nullptr);
  std::vector<std::string> hello = sent_after_handshake(client, base);
  g_object_unref(client);
  g_object_unref(base);
  if (hello.empty())
    g_error("the DTLS client sent nothing");
  hello.resize(1);
  write_seed("dtls", "client-hello-to-server-cookies", 1, pieces(hello));
  write_seed("dtls", "client-hello-to-server-no-cookies", 3, pieces(hello));
  write_seed("dtls", "client-hello-to-server-request-cert", 7, pieces(hello));

  for (bool cookies : {true, false}) {
    base = fuzz::memory_datagrams(hello);
    GDatagramBased *server = g_dtls_server_connection_new(base, fuzz::server_certificate(), nullptr);
    g_object_set(server, "cookie-exchange", cookies, nullptr);
    std::vector<std::string> answer = sent_after_handshake(server, base);
    g_object_unref(server);
    g_object_unref(base);
    write_seed("dtls", cookies ? "hello-verify-request-to-client" : "server-flight-to-client", 0,
               pieces(answer));
  }
  g_object_unref(identity);
}

void certificate_seeds()
{
  write_seed("certificate", "pem-cert-and-key", 0, file("server-and-key.pem"));
  write_seed("certificate", "pem-chain", 0, file("server-chain.pem"));
  write_seed("certificate", "pem-ecdsa", 0, file("server-ecdsa.pem"));
  write_seed("certificate", "der-cert", 1, file("server.der"));
  write_seed("certificate", "der-cert-and-key", 2, piece(file("server.der")) + file("server-key.der"));
  write_seed("certificate", "der-cert-and-pkcs8-key", 2,
             piece(file("server.der")) + file("server-key-pkcs8.der"));
  write_seed("certificate", "pem-cert-and-ecdsa-key", 3,
             piece(file("server-ecdsa.pem")) + file("server-ecdsa-key.pem"));
  write_seed("certificate", "pem-cert-and-encrypted-key", 3,
             piece(file("server.pem")) + file("server-key-encrypted.pem"));
  write_seed("certificate", "pkcs12", 4, file("server.p12"));
  write_seed("certificate", "pkcs12-password", 5, file("server-password.p12"));
}

void verify_seed(const char *name, const char *anchors, const char *host, const char *chain)
{
  std::string body = piece(file(anchors)) + piece(host) + file(chain);
  // The verify target has no mode byte: write the body as is.
  std::string path = dir + "/verify";
  g_mkdir_with_parents(path.c_str(), 0755);
  path += std::string("/") + name;
  if (!g_file_set_contents(path.c_str(), body.data(), gssize(body.size()), nullptr))
    g_error("cannot write %s", path.c_str());
}

void verify_seeds()
{
  verify_seed("server-chain", "ca.pem", "localhost", "server-chain.pem");
  verify_seed("ordered", "chains/anchors-root.pem", "localhost", "chains/chain-ordered.pem");
  verify_seed("unordered", "chains/anchors-root.pem", "localhost", "chains/chain-unordered.pem");
  verify_seed("cycle", "chains/anchors-cycle.pem", "localhost", "chains/chain-cycle.pem");
  verify_seed("long", "chains/anchors-root.pem", "localhost", "chains/chain-long.pem");
  verify_seed("duplicates", "chains/anchors-duplicates.pem", "", "chains/chain-duplicates.pem");
  verify_seed("ip", "chains/anchors-root.pem", "127.0.0.1", "chains/chain-iponly.pem");
}

}  // namespace

int main(int argc, char **argv)
{
  if (argc < 2) {
    g_printerr("usage: %s CORPUS-DIR [SUFFIX]\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  suffix = argc > 2 ? argv[2] : "";
  fuzz::init();
  tls_seeds();
  if (suffix.empty()) {
    tls_record_seeds();
    dtls_seeds();
    certificate_seeds();
    verify_seeds();
  }
  return 0;
}
