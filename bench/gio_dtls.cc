// The DTLS workloads through the public GIO API: GDtlsClientConnection and
// GDtlsServerConnection over connected GSocket UDP pairs, client on the
// calling thread, server on a helper thread, sync calls. A backend that
// cannot make DTLS connections (construction fails) is reported n/a.
#include "workloads.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unistd.h>

namespace bench {

namespace {

// Cancels a GCancellable when a deadline passes, unless disarmed first
// (destruction disarms). Bounds sync GIO calls that take no timeout.
class Watchdog {
public:
  Watchdog(GCancellable *cancellable, double seconds)
      : thread_([this, cancellable, seconds] {
          std::unique_lock lock(mutex_);
          if (!cond_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return disarmed_; }))
            g_cancellable_cancel(cancellable);
        })
  {
  }
  ~Watchdog()
  {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
      cond_.notify_all();
    }
    thread_.join();
  }

private:
  std::mutex mutex_;
  std::condition_variable cond_;
  bool disarmed_ = false;
  std::thread thread_;
};

GDatagramBased *udp_based(int fd)
{
  GSocket *sock = g_socket_new_from_fd(fd, nullptr);
  if (!sock)
    close(fd);
  return sock ? G_DATAGRAM_BASED(sock) : nullptr;
}

// A DTLS client over `fd` naming localhost:`port`. Handshakes that must be
// full ones give each connection a port of its own: a backend with a client
// session cache (ours) would otherwise resume, and raw GnuTLS does not.
GDatagramBased *dtls_client(int fd, GTlsDatabase *db, GError **error, guint16 port = 443)
{
  GDatagramBased *base = udp_based(fd);
  if (!base) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot wrap socket");
    return nullptr;
  }
  GSocketConnectable *id = g_network_address_new("localhost", port);
  GDatagramBased *c = g_dtls_client_connection_new(base, id, error);
  g_object_unref(id);
  g_object_unref(base);
  if (c)
    g_dtls_connection_set_database(G_DTLS_CONNECTION(c), db);
  return c;
}

GDatagramBased *dtls_server(int fd, GTlsCertificate *cert, GError **error)
{
  GDatagramBased *base = udp_based(fd);
  if (!base) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot wrap socket");
    return nullptr;
  }
  GDatagramBased *c = g_dtls_server_connection_new(base, cert, error);
  g_object_unref(base);
  return c;
}

bool handshake(GDatagramBased *conn, GCancellable *cancellable, GError **error)
{
  return conn && g_dtls_connection_handshake(G_DTLS_CONNECTION(conn), cancellable, error);
}

bool send_one(GDatagramBased *conn, const void *buf, size_t len, GCancellable *cancellable, GError **error)
{
  GOutputVector v = {buf, len};
  GOutputMessage m = {nullptr, &v, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &m, 1, 0, -1, cancellable, error) == 1;
}

// One datagram into buf; its size, or -1 (error or timeout, in µs).
gssize receive_one(GDatagramBased *conn, void *buf, size_t len, gint64 timeout_us, GCancellable *cancellable,
                   GError **error)
{
  GInputVector v = {buf, len};
  GInputMessage m = {nullptr, &v, 1, 0, 0, nullptr, nullptr};
  if (g_datagram_based_receive_messages(conn, &m, 1, 0, timeout_us, cancellable, error) != 1)
    return -1;
  return static_cast<gssize>(m.bytes_received);
}

void close_and_unref(GDatagramBased *conn)
{
  if (!conn)
    return;
  g_dtls_connection_close(G_DTLS_CONNECTION(conn), nullptr, nullptr);
  g_object_unref(conn);
}

std::string take_message(GError **e)
{
  std::string m = *e ? (*e)->message : "unknown error";
  g_clear_error(e);
  return m;
}

// Whether this backend makes DTLS connections at all; else why not.
bool dtls_available(GTlsDatabase *db, std::string *out_why)
{
  int fds[2];
  if (!udp_pair(fds)) {
    *out_why = "cannot make a UDP pair";
    return false;
  }
  GError *e = nullptr;
  GDatagramBased *c = dtls_client(fds[0], db, &e);
  close(fds[1]);
  if (c) {
    g_object_unref(c);
    return true;
  }
  bool supports = g_tls_backend_supports_dtls(g_tls_backend_get_default());
  *out_why = "DTLS not available from this backend (" + take_message(&e) +
             (supports ? ")" : "; g_tls_backend_supports_dtls() is FALSE)");
  return false;
}

Result handshakes(GTlsCertificate *cert, GTlsDatabase *db, Limits lim)
{
  Result r;
  r.workload = "dtls-hs";
  r.unit = "handshakes/s";
  FdQueue queue;
  GCancellable *cancel = g_cancellable_new();
  std::atomic<long> server_failures{0};
  std::thread server([&] {
    for (int fd; (fd = queue.pop()) >= 0;) {
      GDatagramBased *conn = dtls_server(fd, cert, nullptr);
      if (!handshake(conn, cancel, nullptr) || !send_one(conn, "x", 1, cancel, nullptr))
        server_failures++;
      close_and_unref(conn);
    }
  });
  Watchdog watchdog(cancel, lim.seconds + 10);
  GError *e = nullptr;
  long count = -1;  // the first handshake is an untimed warm-up
  double cpu0 = 0, start = 0, deadline = now_s() + 10;
  while (count < lim.max_count && now_s() < deadline) {
    if (count == 0) {
      cpu0 = cpu_s();
      start = now_s();
      deadline = start + lim.seconds;
    }
    int fds[2];
    if (!udp_pair(fds))
      break;
    queue.push(fds[1]);
    GDatagramBased *conn = dtls_client(fds[0], db, &e, static_cast<guint16>(10000 + (count + 1) % 50000));
    char byte;
    bool ok = handshake(conn, cancel, &e) && receive_one(conn, &byte, 1, 2000000, cancel, &e) == 1;
    close_and_unref(conn);
    if (!ok)
      break;
    count++;
  }
  count = std::max(count, 0L);
  double elapsed = start ? now_s() - start : 0;
  if (e)
    r.note = "stopped by error: " + take_message(&e);
  g_cancellable_cancel(cancel);  // a server still waiting gives up
  queue.close();
  server.join();
  r.number("cpu_us_per_op", count ? (cpu_s() - cpu0) * 1e6 / count : NAN);
  r.value = elapsed > 0 ? count / elapsed : 0;
  r.number("completed", count);
  r.number("seconds", elapsed);
  r.number("server_failures", server_failures.load());
  return r;
}

// 1200-byte datagrams from a client thread to a server thread: received per
// second (dtls-dgram), or without `receive` (dtls-send) the server thread does
// not read after its handshake (the kernel drops what does not fit), and the
// figure is datagrams per second of the sender thread's CPU time, the
// sending side's cost alone. With `per_call` > 1 (dtls-batch-*) both ends
// pass that many messages to each send_messages / receive_messages call.
Result datagrams(GTlsCertificate *cert, GTlsDatabase *db, Limits lim, const std::string &name, bool receive,
                 unsigned per_call)
{
  Result r;
  r.workload = name;
  r.unit = receive ? "datagrams/s" : "datagrams/CPU-s";
  int fds[2];
  if (!udp_pair(fds)) {
    r.unavailable("cannot make a UDP pair");
    return r;
  }
  GCancellable *cancel = g_cancellable_new();
  std::atomic<bool> sender_done{false};
  DatagramTally tally;
  std::thread server([&, fd = fds[1]] {
    GDatagramBased *conn = dtls_server(fd, cert, nullptr);
    if (handshake(conn, cancel, nullptr)) {
      while (!receive && !sender_done.load())
        g_usleep(1000);
      InputMessages in(per_call);
      std::vector<char> &buf = in.buffer;
      for (; receive;) {
        GError *e = nullptr;
        gint n = per_call == 1 ? (receive_one(conn, buf.data(), buf.size(), 100000, cancel, &e) > 0 ? 1 : -1)
                               : g_datagram_based_receive_messages(conn, in.messages.data(), per_call, 0, 100000,
                                                                   cancel, &e);
        bool timed_out = e && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_clear_error(&e);
        if (n > 0) {
          for (gint i = 0; i < n; i++)
            tally.count();
        } else if (!timed_out || sender_done.load()) {
          break;
        }
      }
    }
    close_and_unref(conn);
  });
  Watchdog watchdog(cancel, lim.seconds + 10);
  GError *e = nullptr;
  GDatagramBased *conn = dtls_client(fds[0], db, &e);
  long sent = 0;
  double sender_us = 0;  // CPU per datagram of the sending thread
  if (handshake(conn, cancel, &e)) {
    std::vector<char> buf(1200, 'd');
    GOutputVector vector = {buf.data(), buf.size()};
    std::vector<GOutputMessage> messages(per_call, GOutputMessage{nullptr, &vector, 1, 0, nullptr, 0});
    double cpu0 = thread_cpu_s();
    double deadline = now_s() + lim.seconds;
    while (sent < lim.max_count && now_s() < deadline) {
      if (per_call == 1) {
        if (!send_one(conn, buf.data(), buf.size(), cancel, &e))
          break;
        sent++;
        continue;
      }
      gint n = g_datagram_based_send_messages(conn, messages.data(), per_call, 0, -1, cancel, &e);
      if (n <= 0)
        break;
      sent += n;
    }
    if (sent > 0) {
      sender_us = (thread_cpu_s() - cpu0) * 1e6 / sent;
      r.number("sender_cpu_us_per_datagram", sender_us);
    }
  }
  sender_done.store(true);
  if (e)
    r.note = "stopped by error: " + take_message(&e);
  server.join();
  close_and_unref(conn);
  r.value = receive ? tally.rate() : sender_us > 0 ? 1e6 / sender_us : 0;
  r.number("sent", sent);
  r.number("received", tally.received);
  if (per_call > 1)
    r.number("messages_per_call", per_call);
  return r;
}

Result lossy_handshakes(GTlsCertificate *cert, GTlsDatabase *db, Limits lim)
{
  Result r;
  r.workload = "dtls-loss";
  r.unit = "ms/handshake";
  const double per_handshake = 8;
  std::vector<double> times_ms;
  long attempts = 0, failures = 0;
  std::string first_error;
  double end = now_s() + lim.seconds;
  while (attempts < lim.max_count && now_s() + 0.5 < end) {
    int c = udp_socket(), s = udp_socket();
    LossyRelay relay;
    if (c < 0 || s < 0 || !relay.start(local_port(c), local_port(s), 0.2, 1000 + attempts) ||
        !udp_connect(c, relay.client_facing_port()) || !udp_connect(s, relay.server_facing_port())) {
      r.unavailable("cannot set up the lossy relay");
      return r;
    }
    attempts++;
    GCancellable *server_cancel = g_cancellable_new();
    std::thread server([&] {
      GDatagramBased *conn = dtls_server(s, cert, nullptr);
      if (handshake(conn, server_cancel, nullptr)) {
        // Keep reading so retransmitted client flights are answered.
        char buf[2048];
        while (!g_cancellable_is_cancelled(server_cancel))
          receive_one(conn, buf, sizeof buf, 50000, server_cancel, nullptr);
      }
      if (conn)
        g_object_unref(conn);  // no close_notify: the relay would drop it anyway
    });
    GCancellable *client_cancel = g_cancellable_new();
    GError *e = nullptr;
    double t0 = now_s();
    bool ok;
    GDatagramBased *conn;
    {
      Watchdog watchdog(client_cancel, std::min(per_handshake, end - t0));
      conn = dtls_client(c, db, &e, static_cast<guint16>(10000 + attempts % 50000));
      ok = handshake(conn, client_cancel, &e);
    }
    double t1 = now_s();
    if (ok) {
      times_ms.push_back((t1 - t0) * 1000);
    } else {
      failures++;
      if (first_error.empty())
        first_error = take_message(&e);
    }
    g_clear_error(&e);
    g_cancellable_cancel(server_cancel);
    server.join();
    if (conn)
      g_object_unref(conn);
    g_object_unref(server_cancel);
    g_object_unref(client_cancel);
  }
  if (!first_error.empty())
    r.text("first_error", first_error);
  if (times_ms.empty()) {
    r.unavailable("no handshake completed at 20% loss");
  } else {
    r.value = median(times_ms);
    r.number("min_ms", *std::min_element(times_ms.begin(), times_ms.end()));
    r.number("max_ms", *std::max_element(times_ms.begin(), times_ms.end()));
  }
  r.number("completed", times_ms.size());
  r.number("attempts", attempts);
  r.number("failures", failures);
  return r;
}

}  // namespace

Result run_gio_dtls(const std::string &name, GTlsCertificate *cert, GTlsDatabase *db, Limits lim)
{
  std::string why;
  if (!dtls_available(db, &why)) {
    Result r;
    r.workload = name;
    r.unavailable(why);
    return r;
  }
  if (name == "dtls-hs")
    return handshakes(cert, db, lim);
  if (name == "dtls-dgram" || name == "dtls-send")
    return datagrams(cert, db, lim, name, name == "dtls-dgram", 1);
  if (unsigned per_call = batch_of(name))
    return datagrams(cert, db, lim, name, name.rfind("dtls-batch-dgram-", 0) == 0, per_call);
  if (name == "dtls-loss")
    return lossy_handshakes(cert, db, lim);
  Result r;
  r.workload = name;
  r.unavailable("unknown workload");
  return r;
}

}  // namespace bench
