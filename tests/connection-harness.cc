#include "connection-harness.h"

#include <cstdlib>
#include <cstring>

namespace conn_test {

// ---------------------------------------------------------------------------
// Test data

std::string data_path(const char *name)
{
  return std::string(TEST_FILES_DIR "/") + name;
}

GTlsCertificate *server_certificate()
{
  GError *error = nullptr;
  GTlsCertificate *cert =
      g_tls_certificate_new_from_file(data_path("server-and-key.pem").c_str(), &error);
  g_assert_no_error(error);
  return cert;
}

GTlsCertificate *client_certificate()
{
  GError *error = nullptr;
  GTlsCertificate *cert = g_tls_certificate_new_from_files(
      data_path("client.pem").c_str(), data_path("client-key.pem").c_str(), &error);
  g_assert_no_error(error);
  return cert;
}

GTlsDatabase *ca_database()
{
  GError *error = nullptr;
  GTlsDatabase *db = g_tls_file_database_new(data_path("ca.pem").c_str(), &error);
  g_assert_no_error(error);
  return db;
}

// ---------------------------------------------------------------------------
// Waiting

PeerThread::PeerThread(std::function<void()> peer) : peer_(std::move(peer))
{
  thread_ = g_thread_new("raw-peer", &PeerThread::main, this);
}

void PeerThread::join()
{
  if (thread_)
    g_thread_join(thread_);
  thread_ = nullptr;
}

gpointer PeerThread::main(gpointer data)
{
  static_cast<PeerThread *>(data)->peer_();
  return nullptr;
}

Watchdog::Watchdog(unsigned timeout_ms)
    : cancellable_(g_cancellable_new()),
      deadline_(g_get_monotonic_time() + gint64(timeout_ms) * 1000)
{
  g_mutex_init(&mutex_);
  g_cond_init(&cond_);
  thread_ = g_thread_new("watchdog", &Watchdog::main, this);
}

Watchdog::~Watchdog()
{
  g_mutex_lock(&mutex_);
  stop_ = true;
  g_cond_signal(&cond_);
  g_mutex_unlock(&mutex_);
  g_thread_join(thread_);
  g_object_unref(cancellable_);
  g_cond_clear(&cond_);
  g_mutex_clear(&mutex_);
}

gpointer Watchdog::main(gpointer data)
{
  auto *self = static_cast<Watchdog *>(data);
  g_mutex_lock(&self->mutex_);
  while (!self->stop_) {
    if (!g_cond_wait_until(&self->cond_, &self->mutex_, self->deadline_)) {
      g_cancellable_cancel(self->cancellable_);
      break;
    }
  }
  g_mutex_unlock(&self->mutex_);
  return nullptr;
}

int thread_count()
{
  char *status = nullptr;
  g_assert_true(g_file_get_contents("/proc/self/status", &status, nullptr, nullptr));
  const char *line = strstr(status, "\nThreads:");
  g_assert_nonnull(line);
  int n = atoi(line + strlen("\nThreads:"));
  g_free(status);
  return n;
}

// ---------------------------------------------------------------------------
// Loopback transport

Listener::Listener()
{
  listener = g_socket_listener_new();
  GInetAddress *loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *address = g_inet_socket_address_new(loopback, 0);
  GSocketAddress *effective = nullptr;
  GError *error = nullptr;
  g_socket_listener_add_address(listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                nullptr, &effective, &error);
  g_assert_no_error(error);
  port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
  g_object_unref(effective);
  g_object_unref(address);
  g_object_unref(loopback);
}

Listener::~Listener()
{
  g_socket_listener_close(listener);
  g_object_unref(listener);
}

GIOStream *Listener::accept(GCancellable *cancellable)
{
  GError *error = nullptr;
  GSocketConnection *conn = g_socket_listener_accept(listener, nullptr, cancellable, &error);
  g_assert_no_error(error);
  return G_IO_STREAM(conn);
}

GIOStream *connect_loopback(guint16 port)
{
  GSocketClient *client = g_socket_client_new();
  GError *error = nullptr;
  GSocketConnection *conn =
      g_socket_client_connect_to_host(client, "127.0.0.1", port, nullptr, &error);
  g_assert_no_error(error);
  g_object_unref(client);
  return G_IO_STREAM(conn);
}

GSocketConnectable *localhost_identity(guint16 port)
{
  return g_network_address_new("localhost", port);
}

GTlsConnection *new_client(GIOStream *base, GSocketConnectable *identity, GTlsDatabase *db)
{
  GError *error = nullptr;
  GIOStream *conn = g_tls_client_connection_new(base, identity, &error);
  g_assert_no_error(error);
  g_tls_connection_set_database(G_TLS_CONNECTION(conn), db);
  return G_TLS_CONNECTION(conn);
}

GTlsConnection *new_server(GIOStream *base, GTlsCertificate *cert)
{
  GError *error = nullptr;
  GIOStream *conn = g_tls_server_connection_new(base, cert, &error);
  g_assert_no_error(error);
  return G_TLS_CONNECTION(conn);
}

Pair::Pair(Listener &listener, GTlsDatabase *db, GTlsCertificate *cert)
{
  GIOStream *client_base = connect_loopback(listener.port);
  GIOStream *server_base = listener.accept();
  GSocketConnectable *identity = localhost_identity(listener.port);
  client = new_client(client_base, identity, db);
  server = new_server(server_base, cert);
  g_object_unref(identity);
  g_object_unref(client_base);
  g_object_unref(server_base);
}

Pair::~Pair()
{
  g_clear_object(&client);
  g_clear_object(&server);
}

void on_handshake(GObject *source, GAsyncResult *result, gpointer data)
{
  auto *r = static_cast<AsyncResult *>(data);
  g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &r->error);
  r->done = true;
}

void handshake_both(GTlsConnection *client, GTlsConnection *server, AsyncResult &client_result,
                    AsyncResult &server_result)
{
  g_tls_connection_handshake_async(server, G_PRIORITY_DEFAULT, nullptr, on_handshake, &server_result);
  g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, nullptr, on_handshake, &client_result);
  g_assert_true(iterate_until([&] { return client_result.done; }, 20000));
  if (client_result.error && !server_result.done) {
    GIOStream *base = nullptr;
    g_object_get(client, "base-io-stream", &base, nullptr);
    g_io_stream_close(base, nullptr, nullptr);
    g_object_unref(base);
  }
  g_assert_true(iterate_until([&] { return server_result.done; }, 20000));
}

void handshake_both_ok(Pair &pair)
{
  AsyncResult c, s;
  handshake_both(pair.client, pair.server, c, s);
  g_assert_no_error(c.error);
  g_assert_no_error(s.error);
}

void set_protocols(GTlsConnection *conn, std::vector<const char *> protocols)
{
  protocols.push_back(nullptr);
  g_tls_connection_set_advertised_protocols(conn, protocols.data());
}

void write_all(GIOStream *stream, const void *data, gsize size)
{
  GError *error = nullptr;
  gsize written = 0;
  g_output_stream_write_all(g_io_stream_get_output_stream(stream), data, size, &written, nullptr,
                            &error);
  g_assert_no_error(error);
  g_assert_cmpuint(written, ==, size);
}

std::string read_exactly(GIOStream *stream, gsize size, GCancellable *cancellable)
{
  std::string buf(size, '\0');
  gsize got = 0;
  GError *error = nullptr;
  g_input_stream_read_all(g_io_stream_get_input_stream(stream), buf.data(), size, &got,
                          cancellable, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(got, ==, size);
  return buf;
}

void close_stream(GIOStream *stream)
{
  GError *error = nullptr;
  g_io_stream_close(stream, nullptr, &error);
  g_assert_no_error(error);
}

}  // namespace conn_test
