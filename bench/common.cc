#include "common.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <time.h>
#include <unistd.h>

namespace bench {

namespace {

std::string json_string(const std::string &s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double v)
{
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

long status_field(const char *name)
{
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long value = -1;
  size_t len = strlen(name);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      value = strtol(line + len + 1, nullptr, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

sockaddr_in loopback(int port)
{
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

std::string to_json(const Result &r, const std::string &backend)
{
  std::string out = "{\"workload\":" + json_string(r.workload) +
                    ",\"backend\":" + json_string(backend) + ",\"unit\":" + json_string(r.unit) +
                    ",\"value\":" + (r.available ? json_number(r.value) : "null") +
                    ",\"note\":" + json_string(r.note);
  // Appended piece by piece (GCC 12 warns falsely on chained operator+ here).
  for (const auto &[k, v] : r.numbers) {
    out += ',';
    out += json_string(k);
    out += ':';
    out += json_number(v);
  }
  for (const auto &[k, v] : r.texts) {
    out += ',';
    out += json_string(k);
    out += ':';
    out += json_string(v);
  }
  out += '}';
  return out;
}

double now_s()
{
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double cpu_s()
{
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double thread_cpu_s()
{
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

long rss_kib() { return status_field("VmRSS"); }

int thread_count() { return static_cast<int>(status_field("Threads")); }

long raise_nofile()
{
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<long>(rl.rlim_cur);
}

void trim_heap() { malloc_trim(0); }

int tcp_listener()
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(fd, 1024) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int local_port(int fd)
{
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0)
    return -1;
  return ntohs(a.sin_port);
}

bool tcp_pair(int listener, int out[2])
{
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0)
    return false;
  sockaddr_in a = loopback(local_port(listener));
  if (connect(c, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    close(c);
    return false;
  }
  int s = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (s < 0) {
    close(c);
    return false;
  }
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  out[0] = c;
  out[1] = s;
  return true;
}

int udp_socket()
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in a = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool udp_connect(int fd, int peer_port)
{
  sockaddr_in a = loopback(peer_port);
  return connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
}

bool udp_pair(int out[2])
{
  int a = udp_socket(), b = udp_socket();
  if (a < 0 || b < 0 || !udp_connect(a, local_port(b)) || !udp_connect(b, local_port(a))) {
    if (a >= 0)
      close(a);
    if (b >= 0)
      close(b);
    return false;
  }
  out[0] = a;
  out[1] = b;
  return true;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void FdQueue::push(int fd)
{
  std::lock_guard lock(mutex_);
  fds_.push_back(fd);
  cond_.notify_one();
}

int FdQueue::pop()
{
  std::unique_lock lock(mutex_);
  cond_.wait(lock, [this] { return closed_ || !fds_.empty(); });
  if (fds_.empty())
    return -1;
  int fd = fds_.front();
  fds_.pop_front();
  return fd;
}

void FdQueue::close()
{
  std::lock_guard lock(mutex_);
  closed_ = true;
  cond_.notify_all();
}

bool LossyRelay::start(int client_port, int server_port, double loss, unsigned seed)
{
  a_ = udp_socket();
  b_ = udp_socket();
  if (a_ < 0 || b_ < 0 || !udp_connect(a_, client_port) || !udp_connect(b_, server_port))
    return false;
  client_side_port_ = local_port(a_);
  server_side_port_ = local_port(b_);
  loss_ = loss;
  state_ = seed ? seed : 1;
  thread_ = new std::thread([this] { run(); });
  return true;
}

void LossyRelay::run()
{
  std::vector<char> buf(65536);
  while (!stop_.load()) {
    pollfd p[2] = {{a_, POLLIN, 0}, {b_, POLLIN, 0}};
    if (poll(p, 2, 20) <= 0)
      continue;
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & POLLIN))
        continue;
      ssize_t n = recv(p[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0)
        continue;
      // xorshift32: reproducible drops for a given seed
      state_ ^= state_ << 13;
      state_ ^= state_ >> 17;
      state_ ^= state_ << 5;
      if ((state_ % 10000) < loss_ * 10000)
        continue;
      send(i == 0 ? b_ : a_, buf.data(), n, MSG_DONTWAIT);
    }
  }
}

void LossyRelay::stop()
{
  if (thread_) {
    stop_.store(true);
    auto *t = static_cast<std::thread *>(thread_);
    t->join();
    delete t;
    thread_ = nullptr;
  }
  if (a_ >= 0)
    close(a_);
  if (b_ >= 0)
    close(b_);
  a_ = b_ = -1;
}

double median(std::vector<double> v)
{
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace bench
