// The workloads with raw GnuTLS (see raw_tls.h): the reference for what a
// GnuTLS-based backend can reach on the same sockets. The structure mirrors
// gio_workloads.cc and gio_dtls.cc: sequential workloads have a client on the
// calling thread and a server on one helper thread; the concurrent and memory
// workloads drive every session of every pair from one poll() loop on the
// calling thread.
#include "workloads.h"

#include "raw_datagram_based.h"
#include "raw_tls.h"

#include <algorithm>
#include <cmath>
#include <poll.h>
#include <thread>
#include <unistd.h>

namespace bench {

namespace {

const char *priority_for(const std::string &name)
{
  return name == "bulk-tls12" ? "NORMAL:-VERS-TLS1.3" : "NORMAL";
}

Result stream_workload(const std::string &name, Limits lim)
{
  const bool bulk = name != "pingpong";
  const char *prio = priority_for(name);
  Result r;
  r.workload = name;
  r.unit = bulk ? "MB/s" : "round trips/s";
  int listener = tcp_listener();
  int fds[2];
  if (!tcp_pair(listener, fds)) {
    r.unavailable("cannot make a TCP pair");
    return r;
  }
  close(listener);
  const double far = now_s() + lim.seconds + 30;
  std::thread server([&, fd = fds[1]] {
    gnutls_session_t s = raw::make_session(fd, {.server = true, .priority = prio});
    if (raw::handshake(s, fd, far) == 0) {
      std::vector<char> buf(bulk ? 65536 : 64);
      for (;;) {
        if (bulk) {
          ssize_t n = gnutls_record_recv(s, buf.data(), buf.size());
          if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            if (!raw::wait(s, fd, far))
              break;
          } else if (n <= 0) {
            break;
          }
        } else if (!raw::recv_some(s, fd, buf.data(), 64, far, nullptr) ||
                   !raw::send_all(s, fd, buf.data(), 64, far)) {
          break;
        }
      }
    }
    raw::finish(s, fd);
  });
  int fd = fds[0];
  gnutls_session_t s = raw::make_session(fd, {.priority = prio});
  double count = 0, start = now_s(), cpu0 = cpu_s();
  int hr = raw::handshake(s, fd, far);
  if (hr == 0) {
    r.text("protocol", gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
    r.text("ciphersuite", gnutls_ciphersuite_get(s));
    std::vector<char> buf(bulk ? 16384 : 64, 'a');
    cpu0 = cpu_s();
    start = now_s();
    double deadline = start + lim.seconds;
    while (count < lim.max_count && now_s() < deadline) {
      if (!raw::send_all(s, fd, buf.data(), buf.size(), far) ||
          (!bulk && !raw::recv_some(s, fd, buf.data(), 64, far, nullptr))) {
        r.note = "stopped by an I/O error";
        break;
      }
      count += bulk ? buf.size() : 1;
    }
  } else {
    r.note = std::string("handshake failed: ") + gnutls_strerror(hr);
  }
  raw::finish(s, fd);
  server.join();
  double elapsed = now_s() - start;
  double ops = bulk ? count / 1e6 : count;
  r.number("cpu_us_per_op", ops ? (cpu_s() - cpu0) * 1e6 / ops : NAN);
  r.value = bulk ? count / 1e6 / elapsed : count / elapsed;
  r.number(bulk ? "bytes" : "round_trips", count);
  r.number("seconds", elapsed);
  return r;
}

Result sequential_handshakes(const std::string &name, KeyType key, bool resume, Limits lim)
{
  Result r;
  r.workload = name;
  r.unit = "handshakes/s";
  int listener = tcp_listener();
  FdQueue queue;
  std::atomic<long> server_failures{0};
  std::thread server([&] {
    for (int fd; (fd = queue.pop()) >= 0;) {
      gnutls_session_t s = raw::make_session(fd, {.server = true, .key = key});
      double deadline = now_s() + 5;
      if (raw::handshake(s, fd, deadline) != 0 || !raw::send_all(s, fd, "x", 1, deadline))
        server_failures++;
      raw::finish(s, fd);
    }
  });
  gnutls_datum_t saved = {nullptr, 0};
  long count = 0, resumed = 0;
  std::string error;
  auto one = [&]() -> bool {
    int fds[2];
    if (!tcp_pair(listener, fds)) {
      error = "cannot make a TCP pair";
      return false;
    }
    queue.push(fds[1]);
    gnutls_session_t s = raw::make_session(fds[0], {});
    if (resume && saved.data)
      gnutls_session_set_data(s, saved.data, saved.size);
    double deadline = now_s() + 5;
    char byte;
    int hr = raw::handshake(s, fds[0], deadline);
    bool ok = hr == 0 && raw::recv_some(s, fds[0], &byte, 1, deadline, nullptr);
    if (!ok)
      error = hr ? gnutls_strerror(hr) : "no data after the handshake";
    if (ok && resume) {
      resumed += gnutls_session_is_resumed(s) ? 1 : 0;
      gnutls_free(saved.data);
      saved = {nullptr, 0};
      gnutls_session_get_data2(s, &saved);
    }
    raw::finish(s, fds[0]);
    return ok;
  };
  // One untimed handshake first (see gio_workloads.cc); for `resume` it
  // leaves the session the first timed handshake resumes.
  bool ok = one();
  resumed = 0;
  double cpu0 = cpu_s();
  double start = now_s(), deadline = start + lim.seconds;
  while (ok && count < lim.max_count && now_s() < deadline) {
    ok = one();
    if (ok)
      count++;
  }
  double elapsed = now_s() - start;
  gnutls_free(saved.data);
  queue.close();
  server.join();
  r.number("cpu_us_per_op", count ? (cpu_s() - cpu0) * 1e6 / count : NAN);
  close(listener);
  if (!ok)
    r.note = "stopped by error: " + error;
  r.value = count / elapsed;
  r.number("completed", count);
  r.number("seconds", elapsed);
  r.number("server_failures", server_failures.load());
  if (resume)
    r.number("resumed_fraction", count ? double(resumed) / count : NAN);
  return r;
}

// Every session of many pairs driven from one poll() loop.
class PollEngine {
public:
  struct Peer {
    gnutls_session_t session = nullptr;
    int fd = -1;
    size_t pair = 0;
    bool done = false;
  };

  std::vector<Peer> peers;      // client, server, client, server, ...
  long completed = 0;           // pairs with both ends done
  long failed = 0;              // sessions that failed
  int peak_threads = 0;
  std::string first_error;

  // Adds pairs over the socket pairs given (client end, server end).
  bool add_pair(int client_fd, int server_fd)
  {
    size_t pair = peers.size() / 2;
    gnutls_session_t c = raw::make_session(client_fd, {});
    gnutls_session_t s = raw::make_session(server_fd, {.server = true});
    if (!c || !s)
      return false;
    peers.push_back({c, client_fd, pair});
    peers.push_back({s, server_fd, pair});
    done_.resize(pair + 1);
    return true;
  }

  // Handshakes peers [begin, end) until all are done or `deadline`.
  void run(size_t begin, size_t end, double deadline)
  {
    for (size_t i = begin; i < end && now_s() < deadline; i++)
      step(peers[i]);
    std::vector<pollfd> pfd;
    std::vector<size_t> index;
    double next_sample = 0;
    while (now_s() < deadline) {
      pfd.clear();
      index.clear();
      for (size_t i = begin; i < end; i++) {
        if (peers[i].done)
          continue;
        short events = gnutls_record_get_direction(peers[i].session) ? POLLOUT : POLLIN;
        pfd.push_back({peers[i].fd, events, 0});
        index.push_back(i);
      }
      if (pfd.empty())
        break;
      if (poll(pfd.data(), pfd.size(), 50) < 0)
        break;
      for (size_t k = 0; k < pfd.size() && now_s() < deadline; k++)
        if (pfd[k].revents)
          step(peers[index[k]]);
      if (now_s() >= next_sample) {
        peak_threads = std::max(peak_threads, thread_count());
        next_sample = now_s() + 0.01;
      }
    }
    peak_threads = std::max(peak_threads, thread_count());
  }

private:
  void step(Peer &p)
  {
    int r = gnutls_handshake(p.session);
    if (r == 0) {
      p.done = true;
      if (++done_[p.pair] == 2)
        completed++;
    } else if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(r)) {
      p.done = true;
      failed++;
      if (first_error.empty())
        first_error = gnutls_strerror(r);
    }
  }

  std::vector<int> done_;
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

Result concurrent(const std::string &name, Limits lim)
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
  // One untimed pair first, as in the GIO workloads.
  auto *warm = new PollEngine();
  warm->add_pair(fds[n].first, fds[n].second);
  warm->run(0, 2, now_s() + 10);
  auto *engine = new PollEngine();  // leaked: the process exits right after
  double cpu0 = cpu_s();
  double start = now_s();
  for (long i = 0; i < n; i++)
    engine->add_pair(fds[i].first, fds[i].second);
  engine->run(0, engine->peers.size(), start + lim.seconds);
  double wall = now_s() - start;
  r.number("cpu_us_per_op", engine->completed ? (cpu_s() - cpu0) * 1e6 / engine->completed : NAN);
  if (engine->completed < n)
    r.note += (r.note.empty() ? "" : "; ") + std::string("time bound reached: ") +
              std::to_string(engine->completed) + " of " + std::to_string(n) + " completed";
  if (!engine->first_error.empty())
    r.text("first_error", engine->first_error);
  r.value = engine->completed / wall;
  r.number("n", n);
  r.number("completed", engine->completed);
  r.number("failed", engine->failed);
  r.number("wall_s", wall);
  r.number("threads_peak", engine->peak_threads);
  return r;
}

Result idle_memory(Limits lim, size_t n)
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
  auto *engine = new PollEngine();  // leaked: the process exits right after
  double deadline = now_s() + lim.seconds;
  engine->add_pair(fds[n].first, fds[n].second);  // warm-up pair, closed again
  engine->run(0, 2, deadline);
  raw::finish(engine->peers[0].session, engine->peers[0].fd);
  raw::finish(engine->peers[1].session, engine->peers[1].fd);
  engine->peers.clear();
  auto *pairs = new PollEngine();
  trim_heap();
  long before = rss_kib();
  for (size_t i = 0; i < n && now_s() < deadline; i += batch) {
    size_t first = pairs->peers.size();
    for (size_t j = i; j < std::min(n, i + batch); j++)
      pairs->add_pair(fds[j].first, fds[j].second);
    pairs->run(first, pairs->peers.size(), deadline);
  }
  trim_heap();
  long after = rss_kib();
  if (pairs->completed < long(n))
    r.note = "time bound reached: " + std::to_string(pairs->completed) + " of " + std::to_string(n) + " pairs";
  r.value = pairs->completed ? double(after - before) / pairs->completed : NAN;
  r.number("pairs", pairs->completed);
  r.number("rss_before_kib", before);
  r.number("rss_after_kib", after);
  return r;
}

Result dtls_handshakes(Limits lim)
{
  Result r;
  r.workload = "dtls-hs";
  r.unit = "handshakes/s";
  FdQueue queue;
  std::atomic<long> server_failures{0};
  std::thread server([&] {
    for (int fd; (fd = queue.pop()) >= 0;) {
      gnutls_session_t s = raw::make_session(fd, {.server = true, .dtls = true});
      double deadline = now_s() + 5;
      if (raw::handshake(s, fd, deadline) != 0 || !raw::send_all(s, fd, "x", 1, deadline))
        server_failures++;
      raw::finish(s, fd);
    }
  });
  long count = -1;  // the first handshake is an untimed warm-up
  std::string error;
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
    gnutls_session_t s = raw::make_session(fds[0], {.dtls = true});
    double bound = now_s() + 5;
    char byte;
    size_t got = 0;
    int hr = raw::handshake(s, fds[0], bound);
    bool ok = hr == 0 && raw::recv_some(s, fds[0], &byte, 1, bound, &got);
    raw::finish(s, fds[0]);
    if (!ok) {
      error = hr ? gnutls_strerror(hr) : "no datagram after the handshake";
      break;
    }
    count++;
  }
  count = std::max(count, 0L);
  double elapsed = start ? now_s() - start : 0;
  queue.close();
  server.join();
  r.number("cpu_us_per_op", count ? (cpu_s() - cpu0) * 1e6 / count : NAN);
  if (!error.empty())
    r.note = "stopped by error: " + error;
  r.value = elapsed > 0 ? count / elapsed : 0;
  r.number("completed", count);
  r.number("seconds", elapsed);
  r.number("server_failures", server_failures.load());
  return r;
}

// One datagram through `conn` (a RawDatagramBased) as an application calls it.
bool send_through_gio(GDatagramBased *conn, const void *buf, size_t len, GCancellable *cancel)
{
  GOutputVector v = {buf, len};
  GOutputMessage m = {nullptr, &v, 1, 0, nullptr, 0};
  return g_datagram_based_send_messages(conn, &m, 1, 0, -1, cancel, nullptr) == 1;
}

// `messages` through `conn` in one call; how many went (0 on failure).
long send_batch_through_gio(GDatagramBased *conn, std::vector<GOutputMessage> &messages, GCancellable *cancel)
{
  gint n = g_datagram_based_send_messages(conn, messages.data(), static_cast<guint>(messages.size()), 0, -1,
                                          cancel, nullptr);
  return std::max(n, 0);
}

// Up to `messages.size()` datagrams in one call; how many came (0 when none
// did within the timeout).
long receive_batch_through_gio(GDatagramBased *conn, std::vector<GInputMessage> &messages, gint64 timeout_us,
                               GCancellable *cancel)
{
  GError *error = nullptr;
  gint n = g_datagram_based_receive_messages(conn, messages.data(), static_cast<guint>(messages.size()), 0,
                                             timeout_us, cancel, &error);
  g_clear_error(&error);
  return std::max(n, 0);
}

bool receive_through_gio(GDatagramBased *conn, void *buf, size_t len, gint64 timeout_us, GCancellable *cancel)
{
  GInputVector v = {buf, len};
  GInputMessage m = {nullptr, &v, 1, 0, 0, nullptr, nullptr};
  GError *error = nullptr;
  bool ok = g_datagram_based_receive_messages(conn, &m, 1, 0, timeout_us, cancel, &error) == 1;
  g_clear_error(&error);
  return ok;
}

// 1200-byte datagrams from a client thread to a server thread, received
// or not (dtls-dgram, dtls-send; see gio_dtls.cc). With `through_gio` both
// ends call GIO's GDatagramBased functions on a RawDatagramBased, with a
// shared cancellable as the GIO workload has: the cost of GIO's calls alone,
// with `per_call` messages per call (one record and one system call each).
// Raw GnuTLS called directly sends one record per call whatever `per_call`.
Result dtls_datagrams(Limits lim, bool through_gio, bool receive, unsigned per_call)
{
  Result r;
  r.workload = receive ? "dtls-dgram" : "dtls-send";
  r.unit = receive ? "datagrams/s" : "datagrams/CPU-s";
  int fds[2];
  if (!udp_pair(fds)) {
    r.unavailable("cannot make a UDP pair");
    return r;
  }
  if (!through_gio)
    per_call = 1;
  GCancellable *cancel = g_cancellable_new();
  std::atomic<bool> sender_done{false};
  DatagramTally tally;
  const double far = now_s() + lim.seconds + 30;
  std::thread server([&, fd = fds[1]] {
    gnutls_session_t s = raw::make_session(fd, {.server = true, .dtls = true});
    if (raw::handshake(s, fd, far) == 0) {
      GDatagramBased *conn = through_gio ? raw::datagram_based_new(s, fd, far) : nullptr;
      while (!receive && !sender_done.load())
        g_usleep(1000);
      InputMessages in(per_call);
      std::vector<char> &buf = in.buffer;
      for (; receive;) {
        size_t got = 0;
        long n = 0;
        if (conn && per_call > 1)
          n = receive_batch_through_gio(conn, in.messages, 100000, cancel);
        else if (conn)
          n = receive_through_gio(conn, buf.data(), 2048, 100000, cancel);
        else
          n = raw::recv_some(s, fd, buf.data(), 2048, now_s() + 0.1, &got);
        if (n > 0) {
          for (long i = 0; i < n; i++)
            tally.count();
        } else if (sender_done.load() || now_s() > far) {
          break;
        }
      }
      g_clear_object(&conn);
    }
    raw::finish(s, fd);
  });
  gnutls_session_t s = raw::make_session(fds[0], {.dtls = true});
  long sent = 0;
  double sender_us = 0;  // CPU per datagram of the sending thread
  if (raw::handshake(s, fds[0], far) == 0) {
    GDatagramBased *conn = through_gio ? raw::datagram_based_new(s, fds[0], far) : nullptr;
    std::vector<char> buf(1200, 'd');
    GOutputVector vector = {buf.data(), buf.size()};
    std::vector<GOutputMessage> messages(per_call, GOutputMessage{nullptr, &vector, 1, 0, nullptr, 0});
    double cpu0 = thread_cpu_s();
    double deadline = now_s() + lim.seconds;
    while (sent < lim.max_count && now_s() < deadline) {
      long n = 0;
      if (conn && per_call > 1)
        n = send_batch_through_gio(conn, messages, cancel);
      else if (conn)
        n = send_through_gio(conn, buf.data(), buf.size(), cancel);
      else
        n = raw::send_all(s, fds[0], buf.data(), buf.size(), far);
      if (n <= 0)
        break;
      sent += n;
    }
    if (sent > 0) {
      sender_us = (thread_cpu_s() - cpu0) * 1e6 / sent;
      r.number("sender_cpu_us_per_datagram", sender_us);
    }
    g_clear_object(&conn);
  } else {
    r.note = "handshake failed";
  }
  sender_done.store(true);
  server.join();
  raw::finish(s, fds[0]);
  g_object_unref(cancel);
  r.value = receive ? tally.rate() : sender_us > 0 ? 1e6 / sender_us : 0;
  r.number("sent", sent);
  r.number("received", tally.received);
  return r;
}

// Raw GnuTLS's figure, and the same through GIO's calls (as
// through_gio_value and through_gio_sender_cpu_us_per_datagram) with
// `per_call` messages per call.
Result dtls_datagrams(Limits lim, const std::string &name, bool receive, unsigned per_call)
{
  Result r = dtls_datagrams(lim, false, receive, 1);
  Result floor = dtls_datagrams(lim, true, receive, per_call);
  r.workload = name;
  r.number("through_gio_value", floor.value);
  if (double us = floor.value_of("sender_cpu_us_per_datagram", 0); us > 0)
    r.number("through_gio_sender_cpu_us_per_datagram", us);
  if (per_call > 1)
    r.number("messages_per_call", per_call);
  return r;
}

Result dtls_lossy(Limits lim)
{
  Result r;
  r.workload = "dtls-loss";
  r.unit = "ms/handshake";
  const double per_handshake = 8;
  std::vector<double> times_ms;
  long attempts = 0, failures = 0;
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
    std::atomic<bool> stop{false};
    std::thread server([&] {
      gnutls_session_t ss = raw::make_session(s, {.server = true, .dtls = true});
      double bound = now_s() + per_handshake;
      if (raw::handshake(ss, s, bound) == 0) {
        char buf[2048];
        size_t got;
        while (!stop.load())  // answer retransmitted client flights
          raw::recv_some(ss, s, buf, sizeof buf, now_s() + 0.05, &got);
      }
      close(s);
      gnutls_deinit(ss);
    });
    gnutls_session_t cs = raw::make_session(c, {.dtls = true});
    double t0 = now_s();
    int hr = raw::handshake(cs, c, std::min(t0 + per_handshake, end));
    double t1 = now_s();
    if (hr == 0)
      times_ms.push_back((t1 - t0) * 1000);
    else
      failures++;
    stop.store(true);
    server.join();
    close(c);
    gnutls_deinit(cs);
  }
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

Result run_raw(const std::string &name, const Context &ctx)
{
  std::string error;
  if (!raw::init(ctx.certs, &error)) {
    Result r;
    r.workload = name;
    r.unavailable(error);
    return r;
  }
  Limits lim = limits_of(name, ctx);
  if (name == "bulk-tls13" || name == "bulk-tls12" || name == "pingpong")
    return stream_workload(name, lim);
  if (name == "hs-ecdsa")
    return sequential_handshakes(name, KeyType::Ecdsa, false, lim);
  if (name == "hs-rsa")
    return sequential_handshakes(name, KeyType::Rsa, false, lim);
  if (name == "resumed")
    return sequential_handshakes(name, KeyType::Ecdsa, true, lim);
  if (concurrency_of(name))
    return concurrent(name, lim);
  if (name == "idle-mem")
    return idle_memory(lim, ctx.count ? ctx.count : 1000);
  if (name == "dtls-hs")
    return dtls_handshakes(lim);
  if (name == "dtls-dgram" || name == "dtls-send")
    return dtls_datagrams(lim, name, name == "dtls-dgram", 1);
  if (unsigned per_call = batch_of(name))
    return dtls_datagrams(lim, name, name.rfind("dtls-batch-dgram-", 0) == 0, per_call);
  if (name == "dtls-loss")
    return dtls_lossy(lim);
  Result r;
  r.workload = name;
  r.unavailable("unknown workload");
  return r;
}

}  // namespace bench
