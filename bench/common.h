// Shared pieces of gio-tls-bench: the result record every workload returns,
// its JSON form, process measurements (RSS, threads, fd limit) and loopback
// socket pairs. Workloads in gio_workloads.cc (any GIO TLS backend, public API
// only) and raw_workloads.cc (GnuTLS directly, non-blocking with poll) use
// the same sockets made here, so both measure the same transport. Everything
// here may be called from any thread unless a comment says otherwise.
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// Certificates and keys the workloads use (tests/files of the source tree).
struct Certs {
  std::string ca;          // trust anchor for every server chain below
  std::string ecdsa_chain; // ECDSA P-256 leaf + intermediate
  std::string ecdsa_key;
  std::string rsa_chain;   // RSA-2048 leaf + intermediate
  std::string rsa_key;
};

enum class KeyType { Ecdsa, Rsa };

// Bounds of one workload: it stops at whichever comes first.
struct Limits {
  double seconds;
  long max_count;
};

// One measured figure. `value` is meaningful only when `available`; `note`
// says why not, or what limited the run.
struct Result {
  std::string workload;
  std::string unit;
  double value = 0;
  bool available = true;
  std::string note;
  std::vector<std::pair<std::string, double>> numbers;
  std::vector<std::pair<std::string, std::string>> texts;

  void number(const char *key, double v) { numbers.emplace_back(key, v); }
  // The number recorded under `key`, or `otherwise`.
  double value_of(const std::string &key, double otherwise) const
  {
    for (const auto &[k, v] : numbers)
      if (k == key)
        return v;
    return otherwise;
  }
  void text(const char *key, std::string v) { texts.emplace_back(key, std::move(v)); }
  void unavailable(std::string why)
  {
    available = false;
    note = std::move(why);
  }
};

// The result as one line of JSON (no trailing newline).
std::string to_json(const Result &r, const std::string &backend);

// Monotonic seconds.
double now_s();

// What a datagram receiver thread counts while another thread sends: on a
// cache line of its own, so the receiver's writes do not make the sender's
// stack (where these would otherwise sit) miss the cache on every datagram.
struct alignas(64) DatagramTally {
  long received = 0;
  double first = 0, last = 0;  // now_s() of the first and the last datagram

  void count()
  {
    last = now_s();
    if (received++ == 0)
      first = last;
  }
  // Datagrams per second from the first to the last.
  double rate() const { return received > 1 ? (received - 1) / (last - first) : 0; }
};

// `count` GInputMessages of one 2048-byte vector each, for a receive call
// of several messages (dtls-batch-*).
struct InputMessages {
  std::vector<char> buffer;
  std::vector<GInputVector> vectors;
  std::vector<GInputMessage> messages;

  explicit InputMessages(unsigned count) : buffer(2048 * count), vectors(count), messages(count)
  {
    for (unsigned i = 0; i < count; i++) {
      vectors[i] = {buffer.data() + 2048 * i, 2048};
      messages[i] = {nullptr, &vectors[i], 1, 0, 0, nullptr, nullptr};
    }
  }
};
// CPU time (user + system) of the whole process, in seconds.
double cpu_s();
// CPU time (user + system) of the calling thread, in seconds.
double thread_cpu_s();
// Resident set size of this process in KiB (VmRSS).
long rss_kib();
// Threads of this process (Threads: in /proc/self/status).
int thread_count();
// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
long raise_nofile();
// Returns the heap's free memory to the system (malloc_trim).
void trim_heap();

// A TCP listener on 127.0.0.1, port chosen by the kernel; -1 on failure.
int tcp_listener();
int local_port(int fd);
// A connected TCP pair over loopback through `listener`: out[0] the client
// end, out[1] the server end, both with TCP_NODELAY and close-on-exec.
bool tcp_pair(int listener, int out[2]);
// Two UDP sockets on 127.0.0.1, each connected to the other.
bool udp_pair(int out[2]);
// A UDP socket on 127.0.0.1 with a kernel-chosen port; -1 on failure.
int udp_socket();
bool udp_connect(int fd, int peer_port);
void set_nonblocking(int fd);

// A tiny blocking queue handing file descriptors to a server thread.
// pop() returns -1 once close() was called and the queue is empty.
class FdQueue {
public:
  void push(int fd);
  int pop();
  void close();

private:
  std::mutex mutex_;
  std::condition_variable cond_;
  std::deque<int> fds_;
  bool closed_ = false;
};

// A loopback UDP relay that drops a fraction of datagrams each way,
// deterministically (seeded). Runs on its own thread until stop().
class LossyRelay {
public:
  // Sockets facing the client and the server; ports to connect them to.
  bool start(int client_port, int server_port, double loss, unsigned seed);
  int client_facing_port() const { return client_side_port_; }
  int server_facing_port() const { return server_side_port_; }
  void stop();
  ~LossyRelay() { stop(); }

private:
  void run();
  int a_ = -1, b_ = -1;
  int client_side_port_ = 0, server_side_port_ = 0;
  double loss_ = 0;
  unsigned state_ = 1;
  std::atomic<bool> stop_{false};
  void *thread_ = nullptr;  // std::thread, hidden to keep <thread> out of here
};

// Median, min and max helpers for small samples.
double median(std::vector<double> v);

}  // namespace bench
