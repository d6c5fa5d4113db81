// A handshake that waits for application code never blocks or nests the
// caller's main context (docs/architecture.md, "How a handshake suspends").
//
// Each test makes the application answer later, from the test's own outer
// loop, after it has seen the request pending: an interaction that
// implements only request_certificate_async (as libsoup's does), and a
// database whose verify_chain_async completes from an idle. Meanwhile a
// second, complete TLS connection runs on the same context, which would be
// impossible if the module iterated the context itself (the outer code
// would never regain control) or blocked it. Then cancelling, closing and
// dropping a connection whose request is pending. Through the public GIO
// API only; the program runs once per protocol version (meson).
#include "connection-harness.h"
#include "dtls-harness.h"

#include <gio/gio.h>
#include <pthread.h>

#include <atomic>
#include <string>
#include <utility>

using namespace conn_test;

namespace {

// Whether the caller runs on its thread's own stack: application code must
// (language runtimes such as GJS's check the stack pointer against it), even
// when the module's handshake runs on a stack of its own.
bool on_thread_stack()
{
  pthread_attr_t attr;
  g_assert_cmpint(pthread_getattr_np(pthread_self(), &attr), ==, 0);
  void *base = nullptr;
  size_t size = 0;
  pthread_attr_getstack(&attr, &base, &size);
  pthread_attr_destroy(&attr);
  int here = 0;
  auto at = reinterpret_cast<uintptr_t>(&here);
  auto low = reinterpret_cast<uintptr_t>(base);
  return at >= low && at < low + size;
}

// ---------------------------------------------------------------------------
// An interaction that answers certificate requests only asynchronously, and
// only when the test tells it to.

struct LaterInteraction {
  GTlsInteraction parent;
  GTask *pending;  // (owned, nullable) the request waiting for an answer
  int requests;
};

struct LaterInteractionClass {
  GTlsInteractionClass parent_class;
};

GType later_interaction_get_type();
G_DEFINE_TYPE(LaterInteraction, later_interaction, G_TYPE_TLS_INTERACTION)

void later_request_certificate_async(GTlsInteraction *interaction, GTlsConnection *connection,
                                     GTlsCertificateRequestFlags, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  auto *self = reinterpret_cast<LaterInteraction *>(interaction);
  g_assert_null(self->pending);
  g_assert_true(on_thread_stack());
  self->requests++;
  self->pending = g_task_new(interaction, cancellable, callback, user_data);
  g_task_set_task_data(self->pending, g_object_ref(connection), g_object_unref);
}

GTlsInteractionResult later_request_certificate_finish(GTlsInteraction *, GAsyncResult *result,
                                                       GError **error)
{
  gssize r = g_task_propagate_int(G_TASK(result), error);
  return r < 0 ? G_TLS_INTERACTION_FAILED : static_cast<GTlsInteractionResult>(r);
}

void later_interaction_init(LaterInteraction *) {}

void later_interaction_finalize(GObject *object)
{
  g_clear_object(&reinterpret_cast<LaterInteraction *>(object)->pending);
  G_OBJECT_CLASS(later_interaction_parent_class)->finalize(object);
}

void later_interaction_class_init(LaterInteractionClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = later_interaction_finalize;
  klass->parent_class.request_certificate_async = later_request_certificate_async;
  klass->parent_class.request_certificate_finish = later_request_certificate_finish;
}

LaterInteraction *later_interaction_new()
{
  return static_cast<LaterInteraction *>(g_object_new(later_interaction_get_type(), nullptr));
}

// Answers the pending request with `cert` (nullable: unhandled), from the
// caller's frame.
void answer(LaterInteraction *self, GTlsCertificate *cert)
{
  g_assert_nonnull(self->pending);
  GTask *task = self->pending;
  self->pending = nullptr;
  auto *connection = G_TLS_CONNECTION(g_task_get_task_data(task));
  if (cert)
    g_tls_connection_set_certificate(connection, cert);
  g_task_return_int(task, cert ? G_TLS_INTERACTION_HANDLED : G_TLS_INTERACTION_UNHANDLED);
  g_object_unref(task);
}

// ---------------------------------------------------------------------------
// A database whose verification is asynchronous application code. The sync
// verify_chain must not be used by an async handshake.

struct LaterDatabase {
  GTlsDatabase parent;
  GTask *pending;  // (owned, nullable)
  int sync_calls;
};

struct LaterDatabaseClass {
  GTlsDatabaseClass parent_class;
};

GType later_database_get_type();
G_DEFINE_TYPE(LaterDatabase, later_database, G_TYPE_TLS_DATABASE)

GTlsCertificateFlags later_verify_chain(GTlsDatabase *database, GTlsCertificate *, const gchar *,
                                       GSocketConnectable *, GTlsInteraction *,
                                       GTlsDatabaseVerifyFlags, GCancellable *, GError **)
{
  reinterpret_cast<LaterDatabase *>(database)->sync_calls++;
  return GTlsCertificateFlags(0);
}

void later_verify_chain_async(GTlsDatabase *database, GTlsCertificate *chain, const gchar *,
                              GSocketConnectable *, GTlsInteraction *, GTlsDatabaseVerifyFlags,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  auto *self = reinterpret_cast<LaterDatabase *>(database);
  g_assert_null(self->pending);
  g_assert_nonnull(chain);
  g_assert_true(on_thread_stack());
  self->pending = g_task_new(database, cancellable, callback, user_data);
}

GTlsCertificateFlags later_verify_chain_finish(GTlsDatabase *, GAsyncResult *result, GError **error)
{
  gssize r = g_task_propagate_int(G_TASK(result), error);
  return r < 0 ? G_TLS_CERTIFICATE_GENERIC_ERROR : static_cast<GTlsCertificateFlags>(r);
}

void later_database_init(LaterDatabase *) {}

void later_database_finalize(GObject *object)
{
  g_clear_object(&reinterpret_cast<LaterDatabase *>(object)->pending);
  G_OBJECT_CLASS(later_database_parent_class)->finalize(object);
}

void later_database_class_init(LaterDatabaseClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = later_database_finalize;
  klass->parent_class.verify_chain = later_verify_chain;
  klass->parent_class.verify_chain_async = later_verify_chain_async;
  klass->parent_class.verify_chain_finish = later_verify_chain_finish;
}

// ---------------------------------------------------------------------------

// A server that requires a client certificate signed by the test CA, and a
// client without one, with `interaction`.
struct CertRequiredPair {
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  Pair *pair;

  explicit CertRequiredPair(GTlsInteraction *interaction)
  {
    pair = new Pair(listener, db, cert);
    g_tls_connection_set_database(pair->server, db);
    g_object_set(pair->server, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, nullptr);
    g_tls_connection_set_interaction(pair->client, interaction);
  }
  ~CertRequiredPair()
  {
    delete pair;
    g_object_unref(cert);
    g_object_unref(db);
  }
};

// A whole other TLS connection, handshake and one byte each way, on this
// thread's context: proves that the context runs while a request is pending.
void run_other_connection()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair other(listener, db, cert);
    handshake_both_ok(other);
    write_all(G_IO_STREAM(other.client), "x", 1);
    std::string got = read_exactly(G_IO_STREAM(other.server), 1);  // kept alive for the comparison
    g_assert_cmpstr(got.c_str(), ==, "x");
  }
  g_object_unref(cert);
  g_object_unref(db);
}

void test_interaction_answers_later()
{
  LaterInteraction *interaction = later_interaction_new();
  CertRequiredPair p(G_TLS_INTERACTION(interaction));
  AsyncResult client_result, server_result;
  g_tls_connection_handshake_async(p.pair->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &server_result);
  g_tls_connection_handshake_async(p.pair->client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &client_result);
  // Observed from out here, not from inside a callback.
  g_assert_true(iterate_until([&] { return interaction->pending != nullptr; }, 10000));
  g_assert_false(client_result.done);
  run_other_connection();
  g_assert_false(client_result.done);
  g_assert_nonnull(interaction->pending);

  GTlsCertificate *client_cert = client_certificate();
  struct Later {
    LaterInteraction *interaction;
    GTlsCertificate *cert;
  } later{interaction, client_cert};
  g_idle_add(
      [](gpointer data) -> gboolean {
        auto *l = static_cast<Later *>(data);
        answer(l->interaction, l->cert);
        return G_SOURCE_REMOVE;
      },
      &later);
  g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
  g_assert_no_error(client_result.error);
  g_assert_no_error(server_result.error);
  g_assert_cmpint(interaction->requests, ==, 1);
  GTlsCertificate *seen = g_tls_connection_get_peer_certificate(p.pair->server);
  g_assert_nonnull(seen);
  g_assert_true(g_tls_certificate_is_same(seen, client_cert));
  write_all(G_IO_STREAM(p.pair->client), "y", 1);
  std::string got = read_exactly(G_IO_STREAM(p.pair->server), 1);  // kept alive for the comparison
    g_assert_cmpstr(got.c_str(), ==, "y");
  g_object_unref(client_cert);
  g_object_unref(interaction);
}

void test_interaction_cancelled_while_pending()
{
  LaterInteraction *interaction = later_interaction_new();
  CertRequiredPair p(G_TLS_INTERACTION(interaction));
  GCancellable *cancellable = g_cancellable_new();
  AsyncResult client_result, server_result;
  g_tls_connection_handshake_async(p.pair->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &server_result);
  g_tls_connection_handshake_async(p.pair->client, G_PRIORITY_DEFAULT, cancellable, on_handshake,
                                   &client_result);
  g_assert_true(iterate_until([&] { return interaction->pending != nullptr; }, 10000));
  gint64 cancelled_at = g_get_monotonic_time();
  g_cancellable_cancel(cancellable);
  g_assert_true(iterate_until([&] { return client_result.done; }, 5000));
  g_assert_cmpint(g_get_monotonic_time() - cancelled_at, <, 2 * G_USEC_PER_SEC);
  g_assert_error(client_result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  // The application answers afterwards: dropped, nothing breaks.
  GTlsCertificate *client_cert = client_certificate();
  answer(interaction, client_cert);
  // The server's handshake ends too, with an error (the client gave up).
  g_assert_true(iterate_until([&] { return server_result.done; }, 20000));
  g_assert_nonnull(server_result.error);
  g_object_unref(client_cert);
  g_object_unref(cancellable);
  g_object_unref(interaction);
}

void test_interaction_closed_while_pending()
{
  LaterInteraction *interaction = later_interaction_new();
  CertRequiredPair p(G_TLS_INTERACTION(interaction));
  AsyncResult client_result, server_result;
  g_tls_connection_handshake_async(p.pair->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &server_result);
  g_tls_connection_handshake_async(p.pair->client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &client_result);
  g_assert_true(iterate_until([&] { return interaction->pending != nullptr; }, 10000));
  GError *error = nullptr;
  g_io_stream_close(G_IO_STREAM(p.pair->client), nullptr, &error);
  g_assert_no_error(error);
  g_assert_true(iterate_until([&] { return client_result.done; }, 5000));
  g_assert_nonnull(client_result.error);
  answer(interaction, nullptr);
  g_assert_true(iterate_until([&] { return server_result.done; }, 20000));
  g_assert_nonnull(server_result.error);
  g_object_unref(interaction);
}

// The application drops its connection while the request is pending; the
// handshake holds the connection until it ends, then lets it go.
void test_interaction_dropped_while_pending()
{
  LaterInteraction *interaction = later_interaction_new();
  CertRequiredPair p(G_TLS_INTERACTION(interaction));
  AsyncResult client_result, server_result;
  g_tls_connection_handshake_async(p.pair->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &server_result);
  g_tls_connection_handshake_async(p.pair->client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &client_result);
  g_assert_true(iterate_until([&] { return interaction->pending != nullptr; }, 10000));
  GTlsConnection *client = p.pair->client;
  p.pair->client = nullptr;
  g_object_add_weak_pointer(G_OBJECT(client), reinterpret_cast<gpointer *>(&client));
  g_object_unref(client);
  g_assert_nonnull(client);  // kept by its handshake
  GTlsCertificate *client_cert = client_certificate();
  answer(interaction, client_cert);
  g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
  g_assert_no_error(client_result.error);
  g_assert_no_error(server_result.error);
  g_assert_true(iterate_until([&] { return client == nullptr; }, 5000));
  g_object_unref(client_cert);
  g_object_unref(interaction);
}

void test_database_verifies_later()
{
  Listener listener;
  auto *db = static_cast<LaterDatabase *>(g_object_new(later_database_get_type(), nullptr));
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, G_TLS_DATABASE(db), cert);
    AsyncResult client_result, server_result;
    g_tls_connection_handshake_async(pair.server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &server_result);
    g_tls_connection_handshake_async(pair.client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &client_result);
    g_assert_true(iterate_until([&] { return db->pending != nullptr; }, 10000));
    run_other_connection();
    g_assert_false(client_result.done);
    g_idle_add(
        [](gpointer data) -> gboolean {
          auto *d = static_cast<LaterDatabase *>(data);
          GTask *task = d->pending;
          d->pending = nullptr;
          g_task_return_int(task, 0);
          g_object_unref(task);
          return G_SOURCE_REMOVE;
        },
        db);
    g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
    g_assert_no_error(client_result.error);
    g_assert_no_error(server_result.error);
    g_assert_cmpint(db->sync_calls, ==, 0);
    g_assert_cmpuint(g_tls_connection_get_peer_certificate_errors(pair.client), ==, 0);
  }
  {
    // What the database says counts: a rejection fails the handshake.
    Pair pair(listener, G_TLS_DATABASE(db), cert);
    AsyncResult client_result, server_result;
    g_tls_connection_handshake_async(pair.server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &server_result);
    g_tls_connection_handshake_async(pair.client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &client_result);
    g_assert_true(iterate_until([&] { return db->pending != nullptr; }, 10000));
    GTask *task = db->pending;
    db->pending = nullptr;
    bool handler_on_thread_stack = false;
    g_signal_connect(pair.client, "accept-certificate",
                     G_CALLBACK(+[](GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags, gpointer data) -> gboolean {
                       *static_cast<bool *>(data) = on_thread_stack();
                       return FALSE;
                     }),
                     &handler_on_thread_stack);
    g_task_return_int(task, G_TLS_CERTIFICATE_UNKNOWN_CA);
    g_object_unref(task);
    g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
    g_assert_error(client_result.error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
    g_assert_true(handler_on_thread_stack);
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// The same over DTLS: the client's database answers later; both async
// handshakes run on this thread's context meanwhile.
void test_dtls_database_verifies_later()
{
  auto *db = static_cast<LaterDatabase *>(g_object_new(later_database_get_type(), nullptr));
  gtg_test::UdpPair udp;
  GTlsCertificate *cert = gtg_test::server_certificate();
  GDatagramBased *client = gtg_test::new_client(G_DATAGRAM_BASED(udp.client), G_TLS_DATABASE(db));
  GDatagramBased *server = gtg_test::new_server(G_DATAGRAM_BASED(udp.server), cert);
  AsyncResult client_result, server_result;
  auto on_dtls_handshake = [](GObject *source, GAsyncResult *result, gpointer data) {
    auto *r = static_cast<AsyncResult *>(data);
    g_dtls_connection_handshake_finish(G_DTLS_CONNECTION(source), result, &r->error);
    r->done = true;
  };
  g_dtls_connection_handshake_async(G_DTLS_CONNECTION(server), G_PRIORITY_DEFAULT, nullptr,
                                    on_dtls_handshake, &server_result);
  g_dtls_connection_handshake_async(G_DTLS_CONNECTION(client), G_PRIORITY_DEFAULT, nullptr,
                                    on_dtls_handshake, &client_result);
  g_assert_true(iterate_until([&] { return db->pending != nullptr; }, 10000));
  run_other_connection();
  g_assert_false(client_result.done);
  GTask *task = db->pending;
  db->pending = nullptr;
  g_task_return_int(task, 0);
  g_object_unref(task);
  g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
  g_assert_no_error(client_result.error);
  g_assert_no_error(server_result.error);
  g_assert_cmpint(db->sync_calls, ==, 0);
  g_object_unref(client);
  g_object_unref(server);
  g_object_unref(cert);
  g_object_unref(db);
}

// A sync handshake may still ask a sync-only interaction (no nested loop:
// GIO calls the sync implementation directly), and an interaction that only
// answers asynchronously keeps working for blocking callers through GIO's
// invoke function.
void test_sync_handshake_with_async_interaction()
{
  LaterInteraction *interaction = later_interaction_new();
  CertRequiredPair p(G_TLS_INTERACTION(interaction));
  GTlsCertificate *client_cert = client_certificate();
  // The server runs async on this context; the client's blocking handshake
  // runs in a thread whose interaction call is answered from here.
  AsyncResult server_result;
  g_tls_connection_handshake_async(p.pair->server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                   &server_result);
  struct Client {
    GTlsConnection *conn;
    GError *error = nullptr;
    std::atomic<bool> done{false};
  } client{p.pair->client};
  GThread *thread = g_thread_new(
      "client",
      [](gpointer data) -> gpointer {
        auto *c = static_cast<Client *>(data);
        g_tls_connection_handshake(c->conn, nullptr, &c->error);
        c->done = true;
        g_main_context_wakeup(nullptr);
        return nullptr;
      },
      &client);
  g_assert_true(iterate_until([&] { return interaction->pending != nullptr; }, 10000));
  answer(interaction, client_cert);
  g_assert_true(iterate_until([&] { return client.done.load() && server_result.done; }, 20000));
  g_thread_join(thread);
  g_assert_no_error(client.error);
  g_assert_no_error(server_result.error);
  g_object_unref(client_cert);
  g_object_unref(interaction);
}

// Client and server of one TLS connection in one thread, each making only
// nonblocking calls on the pollable streams, with a nonblocking iteration
// of the context in between: the implicit handshakes progress by
// themselves.
void test_one_thread_nonblocking()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    auto *client_out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(G_IO_STREAM(pair.client)));
    auto *server_in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.server)));
    auto *server_out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(G_IO_STREAM(pair.server)));
    auto *client_in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)));
    const std::string request = "ping from the client";
    const std::string reply = "pong from the server";
    std::string got_request, got_reply;
    size_t request_sent = 0, reply_sent = 0;
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    int rounds = 0;
    while ((got_reply.size() < reply.size()) && g_get_monotonic_time() < deadline && rounds < 2000000) {
      rounds++;
      GError *error = nullptr;
      char buf[64];
      if (request_sent < request.size()) {
        gssize n = g_pollable_output_stream_write_nonblocking(
            client_out, request.data() + request_sent, request.size() - request_sent, nullptr, &error);
        if (n > 0)
          request_sent += static_cast<size_t>(n);
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          g_error("client write: %s", error->message);
        g_clear_error(&error);
      }
      if (got_request.size() < request.size()) {
        gssize n = g_pollable_input_stream_read_nonblocking(server_in, buf, sizeof buf, nullptr, &error);
        if (n > 0)
          got_request.append(buf, static_cast<size_t>(n));
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          g_error("server read: %s", error ? error->message : "end of stream");
        g_clear_error(&error);
      } else if (reply_sent < reply.size()) {
        gssize n = g_pollable_output_stream_write_nonblocking(
            server_out, reply.data() + reply_sent, reply.size() - reply_sent, nullptr, &error);
        if (n > 0)
          reply_sent += static_cast<size_t>(n);
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          g_error("server write: %s", error->message);
        g_clear_error(&error);
      }
      if (request_sent == request.size()) {
        gssize n = g_pollable_input_stream_read_nonblocking(client_in, buf, sizeof buf, nullptr, &error);
        if (n > 0)
          got_reply.append(buf, static_cast<size_t>(n));
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          g_error("client read: %s", error ? error->message : "end of stream");
        g_clear_error(&error);
      }
      g_main_context_iteration(nullptr, FALSE);
    }
    g_assert_cmpstr(got_request.c_str(), ==, request.c_str());
    g_assert_cmpstr(got_reply.c_str(), ==, reply.c_str());
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// A server on a thread of its own: a blocking handshake, then one byte
// written; bounded by a watchdog of its own.
class BlockingServer {
public:
  BlockingServer(GTlsConnection *conn, char byte) : conn_(conn), byte_(byte)
  {
    thread_ = g_thread_new("server", main, this);
  }
  // Waits for the thread and asserts that it handshook and wrote.
  void join()
  {
    g_thread_join(std::exchange(thread_, nullptr));
    g_assert_no_error(error_);
  }
  ~BlockingServer()
  {
    if (thread_)
      g_thread_join(thread_);
    g_clear_error(&error_);
  }

private:
  static gpointer main(gpointer data)
  {
    auto *self = static_cast<BlockingServer *>(data);
    Watchdog watchdog(20000);
    if (g_tls_connection_handshake(self->conn_, watchdog.cancellable(), &self->error_)) {
      GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(self->conn_));
      g_output_stream_write_all(out, &self->byte_, 1, nullptr, watchdog.cancellable(), &self->error_);
    }
    return nullptr;
  }

  GTlsConnection *conn_;
  char byte_;
  GError *error_ = nullptr;
  GThread *thread_ = nullptr;
};

// A first nonblocking read, which must start the implicit handshake and
// report WOULD_BLOCK.
void read_would_block(GPollableInputStream *in)
{
  char byte = 0;
  GError *error = nullptr;
  g_assert_cmpint(g_pollable_input_stream_read_nonblocking(in, &byte, 1, nullptr, &error), ==, -1);
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error(&error);
}

// What an application does to read one byte: wait on the stream's source,
// attached to `context` (null: the default one), which is all it iterates;
// read when it dispatches (a wake-up without data is allowed); repeat.
char read_byte_through_source(GPollableInputStream *in, GMainContext *context)
{
  char byte = 0;
  gssize n = -1;
  GError *error = nullptr;
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  for (int waits = 0; n != 1 && waits < 100; waits++) {
    bool dispatched = false;
    GSource *source = g_pollable_input_stream_create_source(in, nullptr);
    g_source_set_callback(
        source,
        reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(+[](GObject *, gpointer data) -> gboolean {
          *static_cast<bool *>(data) = true;
          return G_SOURCE_REMOVE;
        })),
        &dispatched, nullptr);
    g_source_attach(source, context);
    while (!dispatched && g_get_monotonic_time() < deadline)
      g_main_context_iteration(context, FALSE), g_usleep(1000);
    g_assert_true(dispatched);
    g_source_destroy(source);
    g_source_unref(source);
    n = g_pollable_input_stream_read_nonblocking(in, &byte, 1, nullptr, &error);
    if (n < 0) {
      g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_clear_error(&error);
    }
  }
  g_assert_cmpint(n, ==, 1);
  return byte;
}

// A pollable source is all an application may wait on: the handshake that
// its first nonblocking read started must make the source dispatch.
void test_source_sees_background_handshake()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    AsyncResult server_result;
    g_tls_connection_handshake_async(pair.server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &server_result);
    auto *client_in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)));
    read_would_block(client_in);
    g_assert_true(iterate_until([&] { return server_result.done; }, 20000));
    g_assert_no_error(server_result.error);
    write_all(G_IO_STREAM(pair.server), "z", 1);
    g_assert_cmpint(read_byte_through_source(client_in, nullptr), ==, 'z');
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// The same, with the application iterating only a context of its own,
// where it attached the stream's source: the handshake that started on the
// default context (never iterated here) follows the source there. The
// server runs in a thread, blocking.
void test_source_on_another_context()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    BlockingServer server(pair.server, 'w');
    auto *client_in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)));
    read_would_block(client_in);
    GMainContext *own = g_main_context_new();
    g_assert_cmpint(read_byte_through_source(client_in, own), ==, 'w');
    server.join();
    g_main_context_unref(own);
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// A nonblocking read starts the handshake in the background; a blocking
// read on the same thread, which never iterates the context, then takes it
// over instead of waiting for a context nobody runs.
void test_blocking_after_nonblocking()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    BlockingServer server(pair.server, 'b');
    auto *client_in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.client)));
    read_would_block(client_in);
    Watchdog watchdog(20000);
    char byte = 0;
    GError *error = nullptr;
    g_assert_cmpint(g_input_stream_read(G_INPUT_STREAM(client_in), &byte, 1, watchdog.cancellable(), &error), ==, 1);
    g_assert_no_error(error);
    g_assert_cmpint(byte, ==, 'b');
    server.join();
  }
  g_object_unref(cert);
  g_object_unref(db);
}

// An explicit async handshake asked for while the implicit one a
// nonblocking read started runs in the background completes with it.
void test_explicit_joins_implicit()
{
  Listener listener;
  GTlsDatabase *db = ca_database();
  GTlsCertificate *cert = server_certificate();
  {
    Pair pair(listener, db, cert);
    AsyncResult client_result, server_result;
    g_tls_connection_handshake_async(pair.server, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &server_result);
    read_would_block(G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(G_IO_STREAM(pair.client))));
    g_tls_connection_handshake_async(pair.client, G_PRIORITY_DEFAULT, nullptr, on_handshake,
                                     &client_result);
    g_assert_true(iterate_until([&] { return client_result.done && server_result.done; }, 20000));
    g_assert_no_error(client_result.error);
    g_assert_no_error(server_result.error);
    write_all(G_IO_STREAM(pair.server), "j", 1);
    std::string got = read_exactly(G_IO_STREAM(pair.client), 1);  // kept alive for the comparison
    g_assert_cmpstr(got.c_str(), ==, "j");
  }
  g_object_unref(cert);
  g_object_unref(db);
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/suspend/interaction/answers-later", test_interaction_answers_later);
  g_test_add_func("/suspend/interaction/cancelled-while-pending", test_interaction_cancelled_while_pending);
  g_test_add_func("/suspend/interaction/closed-while-pending", test_interaction_closed_while_pending);
  g_test_add_func("/suspend/interaction/dropped-while-pending", test_interaction_dropped_while_pending);
  g_test_add_func("/suspend/interaction/sync-handshake", test_sync_handshake_with_async_interaction);
  g_test_add_func("/suspend/database/verifies-later", test_database_verifies_later);
  g_test_add_func("/suspend/database/dtls-verifies-later", test_dtls_database_verifies_later);
  g_test_add_func("/implicit/tls/one-thread-nonblocking", test_one_thread_nonblocking);
  g_test_add_func("/implicit/tls/source-sees-background-handshake", test_source_sees_background_handshake);
  g_test_add_func("/implicit/tls/source-on-another-context", test_source_on_another_context);
  g_test_add_func("/implicit/tls/blocking-after-nonblocking", test_blocking_after_nonblocking);
  g_test_add_func("/implicit/tls/explicit-joins-implicit", test_explicit_joins_implicit);
  return g_test_run();
}
