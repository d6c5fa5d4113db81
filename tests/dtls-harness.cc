#include "dtls-harness.h"

#include <chrono>
#include <vector>

namespace gtg_test {

std::string data_path(const char *name)
{
  return std::string(TEST_FILES_DIR "/") + name;
}

GTlsCertificate *certificate_from(const char *cert, const char *key)
{
  GError *error = nullptr;
  GTlsCertificate *c = key ? g_tls_certificate_new_from_files(data_path(cert).c_str(),
                                                              data_path(key).c_str(), &error)
                           : g_tls_certificate_new_from_file(data_path(cert).c_str(), &error);
  g_assert_no_error(error);
  return c;
}

GTlsCertificate *server_certificate()
{
  return certificate_from("server-and-key.pem", nullptr);
}

GTlsDatabase *ca_database()
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(data_path("ca.pem").c_str(), &error);
  g_assert_no_error(error);
  return db;
}


GSocket *udp_socket()
{
  GError *error = nullptr;
  GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error(error);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *any_port = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(s, any_port, FALSE, &error));
  g_assert_no_error(error);
  g_object_unref(any_port);
  g_object_unref(lo);
  return s;
}

guint16 local_port(GSocket *s)
{
  GSocketAddress *a = g_socket_get_local_address(s, nullptr);
  g_assert_nonnull(a);
  guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a));
  g_object_unref(a);
  return port;
}

void connect_to_port(GSocket *s, guint16 port)
{
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *to = g_inet_socket_address_new(lo, port);
  GError *error = nullptr;
  g_assert_true(g_socket_connect(s, to, nullptr, &error));
  g_assert_no_error(error);
  g_object_unref(to);
  g_object_unref(lo);
}


GDatagramBased *new_client(GDatagramBased *base, GTlsDatabase *db)
{
  GSocketConnectable *identity = g_network_address_new("localhost", 443);
  GError *error = nullptr;
  GDatagramBased *c = g_dtls_client_connection_new(base, identity, &error);
  g_assert_no_error(error);
  g_dtls_connection_set_database(G_DTLS_CONNECTION(c), db);
  g_object_unref(identity);
  return c;
}

GDatagramBased *new_server(GDatagramBased *base, GTlsCertificate *cert)
{
  GError *error = nullptr;
  GDatagramBased *s = g_dtls_server_connection_new(base, cert, &error);
  g_assert_no_error(error);
  return s;
}

void set_protocols(GDatagramBased *conn, std::initializer_list<const char *> protocols)
{
  std::vector<const char *> v(protocols);
  v.push_back(nullptr);
  g_dtls_connection_set_advertised_protocols(G_DTLS_CONNECTION(conn), v.data());
}

gint send_datagram(GDatagramBased *conn, const std::string &data, gint64 timeout,
                   GCancellable *cancellable, GError **error)
{
  GOutputVector vector{data.data(), data.size()};
  GOutputMessage message{nullptr, &vector, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &message, 1, 0, timeout, cancellable, error);
}

void send_ok(GDatagramBased *conn, const std::string &data, GCancellable *cancellable)
{
  GError *error = nullptr;
  g_assert_cmpint(send_datagram(conn, data, -1, cancellable, &error), ==, 1);
  g_assert_no_error(error);
}

bool receive_datagram(GDatagramBased *conn, std::string *out, gint64 timeout,
                      GCancellable *cancellable, GError **error)
{
  char buf[2048];
  GInputVector vector{buf, sizeof buf};
  GInputMessage message{nullptr, &vector, 1, 0, 0, nullptr, nullptr};
  gint n = g_datagram_based_receive_messages(conn, &message, 1, 0, timeout, cancellable, error);
  if (n < 0)
    return false;
  out->assign(buf, n == 1 ? message.bytes_received : 0);
  return true;
}

std::string receive_ok(GDatagramBased *conn, GCancellable *cancellable)
{
  std::string out;
  GError *error = nullptr;
  bool ok = receive_datagram(conn, &out, -1, cancellable, &error);
  g_assert_no_error(error);
  g_assert_true(ok);
  return out;
}


void expect_datagram(GDatagramBased *conn, const std::string &expected, GCancellable *cancellable)
{
  std::string got = receive_ok(conn, cancellable);  // kept alive for the comparison
  g_assert_cmpstr(got.c_str(), ==, expected.c_str());
}

void handshake_both(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable,
                    HandshakeResult *out_client, HandshakeResult *out_server)
{
  std::thread server_thread([&] {
    out_server->ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(server), cancellable,
                                                 &out_server->error);
  });
  out_client->ok = g_dtls_connection_handshake(G_DTLS_CONNECTION(client), cancellable,
                                               &out_client->error);
  server_thread.join();
}

void handshake_both_ok(GDatagramBased *client, GDatagramBased *server, GCancellable *cancellable)
{
  HandshakeResult c, s;
  handshake_both(client, server, cancellable, &c, &s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
  g_assert_true(c.ok && s.ok);
}

Watchdog::Watchdog(unsigned timeout_ms) : cancellable_(g_cancellable_new())
{
  thread_ = std::thread([this, timeout_ms] {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; }))
      g_cancellable_cancel(cancellable_);
  });
}

Watchdog::~Watchdog()
{
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  g_object_unref(cancellable_);
}

UdpPair::UdpPair()
{
  connect_to_port(client, local_port(server));
  connect_to_port(server, local_port(client));
}

UdpPair::~UdpPair()
{
  g_object_unref(client);
  g_object_unref(server);
}

DtlsPair::DtlsPair()
{
  client = new_client(G_DATAGRAM_BASED(udp.client), db);
  server = new_server(G_DATAGRAM_BASED(udp.server), cert);
}

DtlsPair::~DtlsPair()
{
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(db);
  g_object_unref(cert);
}

}  // namespace gtg_test
