// The workloads through the public GIO API: whatever TLS backend GIO loaded
// (GIO_MODULE_DIR / GIO_USE_TLS decide) is what gets measured. Sequential
// workloads run the client on the calling thread and the server on one helper
// thread, both with sync calls; the concurrent and memory workloads run both
// ends of every pair async on the calling thread's default main context.
#include "workloads.h"

#include "raw_tls.h"

#include <cmath>
#include <thread>
#include <unistd.h>

namespace bench {

namespace {

constexpr guint16 kResumeIdentityPort = 4433;

struct GioCreds {
  GTlsCertificate *ecdsa = nullptr;  // (owned, leaked at exit)
  GTlsCertificate *rsa = nullptr;
  GTlsDatabase *db = nullptr;
};

bool load_creds(const Context &ctx, GioCreds *out, std::string *out_error)
{
  GError *e = nullptr;
  out->ecdsa = g_tls_certificate_new_from_files(ctx.certs.ecdsa_chain.c_str(), ctx.certs.ecdsa_key.c_str(), &e);
  if (out->ecdsa)
    out->rsa = g_tls_certificate_new_from_files(ctx.certs.rsa_chain.c_str(), ctx.certs.rsa_key.c_str(), &e);
  if (out->rsa)
    out->db = g_tls_file_database_new(ctx.certs.ca.c_str(), &e);
  if (!out->db) {
    *out_error = e ? e->message : "cannot load certificates";
    g_clear_error(&e);
    return false;
  }
  return true;
}

std::string take_message(GError **e, const char *fallback)
{
  std::string m = (e && *e) ? (*e)->message : fallback;
  if (e)
    g_clear_error(e);
  return m;
}

// A GSocketConnection over fd (adopted); the caller owns the result.
GIOStream *tcp_stream(int fd)
{
  GSocket *sock = g_socket_new_from_fd(fd, nullptr);
  if (!sock) {
    close(fd);
    return nullptr;
  }
  GSocketConnection *c = g_socket_connection_factory_create_connection(sock);
  g_object_unref(sock);
  return G_IO_STREAM(c);
}

// TLS client over `base` (adopted) for identity localhost:identity_port.
GIOStream *tls_client(GIOStream *base, GTlsDatabase *db, guint16 identity_port, GError **error)
{
  if (!base) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot wrap socket");
    return nullptr;
  }
  GSocketConnectable *id = g_network_address_new("localhost", identity_port);
  GIOStream *c = g_tls_client_connection_new(base, id, error);
  g_object_unref(id);
  g_object_unref(base);
  if (c)
    g_tls_connection_set_database(G_TLS_CONNECTION(c), db);
  return c;
}

GIOStream *tls_server(GIOStream *base, GTlsCertificate *cert, GError **error)
{
  if (!base) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot wrap socket");
    return nullptr;
  }
  GIOStream *c = g_tls_server_connection_new(base, cert, error);
  g_object_unref(base);
  return c;
}

void close_and_unref(GIOStream *conn)
{
  if (!conn)
    return;
  g_io_stream_close(conn, nullptr, nullptr);
  g_object_unref(conn);
}

bool write_all(GIOStream *conn, const void *buf, size_t len, GError **error)
{
  return g_output_stream_write_all(g_io_stream_get_output_stream(conn), buf, len, nullptr, nullptr, error);
}

bool read_all(GIOStream *conn, void *buf, size_t len, GError **error)
{
  gsize got = 0;
  if (!g_input_stream_read_all(g_io_stream_get_input_stream(conn), buf, len, &got, nullptr, error))
    return false;
  if (got != len) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "unexpected end of stream");
    return false;
  }
  return true;
}

bool handshake(GIOStream *conn, GError **error)
{
  return conn && g_tls_connection_handshake(G_TLS_CONNECTION(conn), nullptr, error);
}

// The server thread of the sequential workloads: for each fd from `queue`,
// handshake, send one byte, close. Counts failures.
void serve_handshakes(FdQueue *queue, GTlsCertificate *cert, std::atomic<long> *failures)
{
  for (int fd; (fd = queue->pop()) >= 0;) {
    GIOStream *conn = tls_server(tcp_stream(fd), cert, nullptr);
    if (!handshake(conn, nullptr) || !write_all(conn, "x", 1, nullptr))
      ++*failures;
    close_and_unref(conn);
  }
}

// One client handshake over a fresh pair whose server end goes to `queue`.
bool client_handshake(int listener, FdQueue *queue, GTlsDatabase *db, guint16 identity_port,
                      GIOStream **out_conn, GError **error)
{
  int fds[2];
  if (!tcp_pair(listener, fds)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make a TCP pair");
    return false;
  }
  queue->push(fds[1]);
  GIOStream *conn = tls_client(tcp_stream(fds[0]), db, identity_port, error);
  char byte;
  bool ok = handshake(conn, error) && read_all(conn, &byte, 1, error);
  if (out_conn && ok)
    *out_conn = conn;
  else
    close_and_unref(conn);
  return ok;
}

Result sequential_handshakes(const std::string &name, GTlsCertificate *cert, GTlsDatabase *db,
                             bool resume, Limits lim)
{
  Result r;
  r.workload = name;
  r.unit = "handshakes/s";
  int listener = tcp_listener();
  FdQueue queue;
  std::atomic<long> server_failures{0};
  std::thread server(serve_handshakes, &queue, cert, &server_failures);
  GError *e = nullptr;
  bool ok = true;
  // One untimed handshake first: one-time process costs (the module's first
  // use, a trust store built once) are not per handshake. For `resume` it
  // also leaves the ticket the first timed handshake resumes.
  ok = client_handshake(listener, &queue, db, resume ? kResumeIdentityPort : 9999, nullptr, &e);
  long count = 0;
  double cpu0 = cpu_s();
  double start = now_s(), deadline = start + lim.seconds;
  while (ok && count < lim.max_count && now_s() < deadline) {
    // Full handshakes get a fresh identity each, so no client cache applies.
    guint16 port = resume ? kResumeIdentityPort : static_cast<guint16>(10000 + count % 50000);
    ok = client_handshake(listener, &queue, db, port, nullptr, &e);
    if (ok)
      count++;
  }
  double elapsed = now_s() - start;
  queue.close();
  server.join();
  double cpu = cpu_s() - cpu0;
  close(listener);
  if (!ok)
    r.note = "stopped by error: " + take_message(&e, "unknown");
  r.number("cpu_us_per_op", count ? cpu * 1e6 / count : NAN);
  r.value = count / elapsed;
  r.number("completed", count);
  r.number("seconds", elapsed);
  r.number("server_failures", server_failures.load());
  return r;
}

// Resumption as seen by raw GnuTLS peers: `count` sequential connections of a
// GIO client to a raw GnuTLS server (client side of resumption), then of a
// raw GnuTLS client to a GIO server (server side). The fraction is over all
// connections after the first.
void resumption_probes(GTlsCertificate *cert, GTlsDatabase *db, int count, Result *r)
{
  // GIO client, raw server.
  int listener = tcp_listener();
  FdQueue queue;
  std::atomic<long> resumed{0}, served{0};
  std::thread server([&] {
    for (int fd; (fd = queue.pop()) >= 0;) {
      gnutls_session_t s = raw::make_session(fd, {.server = true});
      double deadline = now_s() + 5;
      if (s && raw::handshake(s, fd, deadline) == 0 && raw::send_all(s, fd, "x", 1, deadline)) {
        if (served++ > 0 && gnutls_session_is_resumed(s))
          resumed++;
      }
      if (s)
        raw::finish(s, fd);
      else
        close(fd);
    }
  });
  GError *e = nullptr;
  for (int i = 0; i < count; i++) {
    if (!client_handshake(listener, &queue, db, kResumeIdentityPort + 1, nullptr, &e))
      break;
  }
  queue.close();
  server.join();
  double client_side = served > 1 ? double(resumed) / (served - 1) : NAN;
  if (e)
    r->text("probe_client_error", take_message(&e, ""));

  // Raw client, GIO server.
  FdQueue queue2;
  std::atomic<long> failures{0};
  std::thread gio_server(serve_handshakes, &queue2, cert, &failures);
  gnutls_datum_t saved = {nullptr, 0};
  long done = 0, resumed2 = 0;
  for (int i = 0; i < count; i++) {
    int fds[2];
    if (!tcp_pair(listener, fds))
      break;
    queue2.push(fds[1]);
    gnutls_session_t s = raw::make_session(fds[0], {});
    if (saved.data)
      gnutls_session_set_data(s, saved.data, saved.size);
    double deadline = now_s() + 5;
    char byte;
    bool ok = raw::handshake(s, fds[0], deadline) == 0 && raw::recv_some(s, fds[0], &byte, 1, deadline, nullptr);
    if (ok) {
      if (done++ > 0 && gnutls_session_is_resumed(s))
        resumed2++;
      gnutls_free(saved.data);
      saved = {nullptr, 0};
      gnutls_session_get_data2(s, &saved);
    }
    raw::finish(s, fds[0]);
    if (!ok)
      break;
  }
  gnutls_free(saved.data);
  queue2.close();
  gio_server.join();
  close(listener);
  double server_side = done > 1 ? double(resumed2) / (done - 1) : NAN;
  r->number("resumed_client_side", client_side);
  r->number("resumed_server_side", server_side);
  r->number("resumed_fraction", std::fmin(client_side, server_side));
}

Result stream_workload(const std::string &name, GioCreds &creds, Limits lim)
{
  const bool bulk = name != "pingpong";
  Result r;
  r.workload = name;
  r.unit = bulk ? "MB/s" : "round trips/s";
  int listener = tcp_listener();
  int fds[2];
  if (!tcp_pair(listener, fds)) {
    r.unavailable("cannot make a TCP pair");
    return r;
  }
  std::thread server([&, fd = fds[1]] {
    GIOStream *conn = tls_server(tcp_stream(fd), creds.ecdsa, nullptr);
    if (handshake(conn, nullptr)) {
      GInputStream *in = g_io_stream_get_input_stream(conn);
      std::vector<char> buf(bulk ? 65536 : 64);
      for (;;) {
        if (bulk) {
          if (g_input_stream_read(in, buf.data(), buf.size(), nullptr, nullptr) <= 0)
            break;
        } else if (!read_all(conn, buf.data(), 64, nullptr) || !write_all(conn, buf.data(), 64, nullptr)) {
          break;
        }
      }
    }
    close_and_unref(conn);
  });
  GError *e = nullptr;
  GIOStream *conn = tls_client(tcp_stream(fds[0]), creds.db, 443, &e);
  double count = 0, start = 0, elapsed = 0, cpu0 = 0;
  if (handshake(conn, &e)) {
    GTlsConnection *tls = G_TLS_CONNECTION(conn);
    GTlsProtocolVersion v = g_tls_connection_get_protocol_version(tls);
    r.text("protocol", v == G_TLS_PROTOCOL_VERSION_TLS_1_3   ? "TLS 1.3"
                       : v == G_TLS_PROTOCOL_VERSION_TLS_1_2 ? "TLS 1.2"
                                                             : "other");
    gchar *suite = g_tls_connection_get_ciphersuite_name(tls);
    r.text("ciphersuite", suite ? suite : "");
    g_free(suite);
    if (name == "bulk-tls12" && v != G_TLS_PROTOCOL_VERSION_TLS_1_2)
      r.note = "TLS 1.2 was not negotiated (set G_TLS_GNUTLS_PRIORITY)";
    std::vector<char> buf(bulk ? 16384 : 64, 'a');
    cpu0 = cpu_s();
    start = now_s();
    double deadline = start + lim.seconds;
    while (count < lim.max_count && now_s() < deadline) {
      if (!write_all(conn, buf.data(), buf.size(), &e) || (!bulk && !read_all(conn, buf.data(), 64, &e)))
        break;
      count += bulk ? buf.size() : 1;
    }
  }
  if (e)
    r.note = "stopped by error: " + take_message(&e, "");
  close_and_unref(conn);
  server.join();
  elapsed = now_s() - start;
  double ops = bulk ? count / 1e6 : count;
  r.number("cpu_us_per_op", ops ? (cpu_s() - cpu0) * 1e6 / ops : NAN);
  close(listener);
  r.value = bulk ? count / 1e6 / elapsed : count / elapsed;
  r.number(bulk ? "bytes" : "round_trips", count);
  r.number("seconds", elapsed);
  return r;
}

// Both ends of `n` pairs handshaking async on the default main context.
struct AsyncRun {
  struct Pair {
    AsyncRun *run;
    GIOStream *client = nullptr;
    GIOStream *server = nullptr;
    int finished = 0;
    bool failed = false;
  };
  std::vector<Pair> pairs;
  long completed = 0;
  long failed = 0;
  long callbacks = 0;        // handshake callbacks received, two per pair
  double constructed_s = 0;  // when the last connection of a batch was made
  int peak_threads = 0;
  std::string first_error;
  GCancellable *cancellable = g_cancellable_new();
  // Set on every client when not null, as libsoup does (conc-256-interaction):
  // the handshake may then call application code, which no server here asks
  // for, so it costs only what preparing for that costs.
  GTlsInteraction *interaction = nullptr;

  static void on_done(GObject *source, GAsyncResult *result, gpointer data)
  {
    auto *p = static_cast<Pair *>(data);
    p->run->callbacks++;
    GError *e = nullptr;
    if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &e)) {
      if (!p->failed)
        p->run->failed++;
      p->failed = true;
      if (p->run->first_error.empty())
        p->run->first_error = e->message;
      g_error_free(e);
    }
    if (++p->finished == 2 && !p->failed)
      p->run->completed++;
  }

  static gboolean sample(gpointer data)
  {
    auto *run = static_cast<AsyncRun *>(data);
    run->peak_threads = std::max(run->peak_threads, thread_count());
    return G_SOURCE_CONTINUE;
  }

  // Makes TLS connections over the socket pairs [begin, end) and handshakes
  // them; returns when all finished or at `deadline` (which also stops
  // making connections: a backend may spend long constructing them).
  void establish(const std::vector<std::pair<int, int>> &fds, size_t begin, size_t end,
                 GioCreds &creds, double deadline)
  {
    long expected = callbacks;
    for (size_t i = begin; i < end && now_s() < deadline; i++) {
      Pair &p = pairs[i];
      p.run = this;
      p.client = tls_client(tcp_stream(fds[i].first), creds.db, 443, nullptr);
      if (p.client && interaction)
        g_tls_connection_set_interaction(G_TLS_CONNECTION(p.client), interaction);
      p.server = tls_server(tcp_stream(fds[i].second), creds.ecdsa, nullptr);
      if (!p.client || !p.server) {
        p.failed = true;
        failed++;
        continue;
      }
      expected += 2;
      g_tls_connection_handshake_async(G_TLS_CONNECTION(p.server), G_PRIORITY_DEFAULT, cancellable, on_done, &p);
      g_tls_connection_handshake_async(G_TLS_CONNECTION(p.client), G_PRIORITY_DEFAULT, cancellable, on_done, &p);
    }
    constructed_s = now_s();
    guint tick = g_timeout_add(10, sample, this);
    while (now_s() < deadline && callbacks < expected)
      g_main_context_iteration(nullptr, TRUE);
    g_source_remove(tick);
    sample(this);
  }
};

bool make_tcp_pairs(size_t n, std::vector<std::pair<int, int>> *out)
{
  int listener = tcp_listener();
  for (size_t i = 0; i < n; i++) {
    int fds[2];
    if (!tcp_pair(listener, fds)) {
      close(listener);
      return false;
    }
    out->emplace_back(fds[0], fds[1]);
  }
  close(listener);
  return true;
}

Result concurrent(const std::string &name, GioCreds &creds, Limits lim)
{
  Result r;
  r.workload = name;
  r.unit = "handshakes/s";
  long want = concurrency_of(name);
  long fd_limit = raise_nofile();
  long n = std::min(want, (fd_limit - 64) / 2 - 1);
  if (n < want)
    r.note = "RLIMIT_NOFILE hard limit " + std::to_string(fd_limit) + " fits " + std::to_string(n) + " pairs";
  std::vector<std::pair<int, int>> fds;
  if (!make_tcp_pairs(n + 1, &fds)) {
    r.unavailable("cannot make " + std::to_string(n) + " TCP pairs");
    return r;
  }
  auto *run = new AsyncRun();  // leaked: the process exits right after
  run->pairs.resize(n + 1);
  if (name.find("-interaction") != std::string::npos)
    run->interaction = G_TLS_INTERACTION(g_object_new(G_TYPE_TLS_INTERACTION, nullptr));
  // One untimed pair first (the last socket pair), as in the sequential
  // workloads: one-time process costs are not per handshake.
  run->establish(fds, n, n + 1, creds, now_s() + 10);
  run->completed = run->failed = run->callbacks = 0;
  run->peak_threads = 0;
  double cpu0 = cpu_s();
  double start = now_s();
  run->establish(fds, 0, n, creds, start + lim.seconds);
  double wall = now_s() - start;
  r.number("cpu_us_per_op", run->completed ? (cpu_s() - cpu0) * 1e6 / run->completed : NAN);
  if (run->completed < n) {
    r.note += (r.note.empty() ? "" : "; ") + std::string("time bound reached: ") + std::to_string(run->completed) +
              " of " + std::to_string(n) + " completed";
    g_cancellable_cancel(run->cancellable);
  }
  if (!run->first_error.empty())
    r.text("first_error", run->first_error);
  r.value = run->completed / wall;
  r.number("n", n);
  r.number("completed", run->completed);
  r.number("failed", run->failed);
  r.number("wall_s", wall);
  r.number("construct_s", run->constructed_s - start);
  r.number("threads_peak", run->peak_threads);
  return r;
}

Result idle_memory(GioCreds &creds, Limits lim, size_t n)
{
  Result r;
  r.workload = "idle-mem";
  r.unit = "KiB/pair";
  const size_t batch = 8;
  raise_nofile();
  std::vector<std::pair<int, int>> fds;
  if (!make_tcp_pairs(n + 1, &fds)) {
    r.unavailable("cannot make TCP pairs");
    return r;
  }
  auto *run = new AsyncRun();  // leaked: the process exits right after
  run->pairs.resize(n + 1);
  double start = now_s(), deadline = start + lim.seconds;
  // One warm-up pair, closed again: one-time costs (module, trust store) are
  // not per connection.
  run->establish(fds, n, n + 1, creds, deadline);
  close_and_unref(run->pairs[n].client);
  close_and_unref(run->pairs[n].server);
  run->completed = 0;
  trim_heap();
  long before = rss_kib();
  for (size_t i = 0; i < n && now_s() < deadline; i += batch)
    run->establish(fds, i, std::min(n, i + batch), creds, deadline);
  trim_heap();
  long after = rss_kib();
  if (run->completed < long(n))
    r.note = "time bound reached: " + std::to_string(run->completed) + " of " + std::to_string(n) + " pairs";
  r.value = run->completed ? double(after - before) / run->completed : NAN;
  r.number("pairs", run->completed);
  r.number("rss_before_kib", before);
  r.number("rss_after_kib", after);
  return r;
}

}  // namespace

Result run_gio(const std::string &name, const Context &ctx)
{
  GioCreds creds;
  std::string error;
  if (!load_creds(ctx, &creds, &error)) {
    Result r;
    r.workload = name;
    r.unavailable(error);
    return r;
  }
  Limits lim = limits_of(name, ctx);
  if (name == "bulk-tls13" || name == "bulk-tls12" || name == "pingpong")
    return stream_workload(name, creds, lim);
  if (name == "hs-ecdsa")
    return sequential_handshakes(name, creds.ecdsa, creds.db, false, lim);
  if (name == "hs-rsa")
    return sequential_handshakes(name, creds.rsa, creds.db, false, lim);
  if (name == "resumed") {
    Result r = sequential_handshakes(name, creds.ecdsa, creds.db, true, lim);
    if (!raw::init(ctx.certs, &error))
      r.text("probe_error", error);
    else
      resumption_probes(creds.ecdsa, creds.db, ctx.quick ? 4 : 12, &r);
    return r;
  }
  if (concurrency_of(name))
    return concurrent(name, creds, lim);
  if (name == "idle-mem")
    return idle_memory(creds, lim, ctx.count ? ctx.count : 1000);
  return run_gio_dtls(name, creds.ecdsa, creds.db, lim);
}

}  // namespace bench
