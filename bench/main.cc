// gio-tls-bench: measures the GIO TLS backend GIO loads (or, with --raw, raw
// GnuTLS on the same sockets) on the workloads of issue 5, and prints one
// JSON line per workload on stdout and a readable line on stderr.
//
// Each workload runs in a child process of its own (this program re-executed
// with --child), so thread counts and memory start from a fresh process, a
// backend that wedges cannot hold up the others (the parent kills a child
// past its time bound), and G_TLS_GNUTLS_PRIORITY can force TLS 1.2 for the
// bulk-tls12 workload of a GIO backend. scripts/bench.sh runs this program
// several times per backend and aggregates.
#include "workloads.h"

#include <gnutls/gnutls.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

const std::vector<const char *> &workload_names()
{
  static const std::vector<const char *> names = {
      "bulk-tls13", "bulk-tls12", "pingpong",  "hs-ecdsa",   "hs-rsa",  "resumed",   "conc-256",
      "conc-256-interaction", "conc-1000",  "conc-10000", "idle-mem",  "dtls-hs",    "dtls-dgram", "dtls-send",
      "dtls-batch-send-8", "dtls-batch-send-32", "dtls-batch-dgram-8", "dtls-batch-dgram-32", "dtls-loss",
  };
  return names;
}

long concurrency_of(const std::string &name)
{
  return name.rfind("conc-", 0) == 0 ? atol(name.c_str() + 5) : 0;
}

unsigned batch_of(const std::string &name)
{
  bool batch = name.rfind("dtls-batch-send-", 0) == 0 || name.rfind("dtls-batch-dgram-", 0) == 0;
  return batch ? static_cast<unsigned>(atol(name.c_str() + name.rfind('-') + 1)) : 0;
}

Limits limits_for(const std::string &name, bool quick)
{
  double scale = quick ? 0.3 : 1.0;
  // 3 s: every process runs slower for its first fraction of a second (a
  // 0.5 GB transfer at 62-70% of a 4 GB one's rate), which a 1 s window
  // leaves as a large, noisy share of the figure.
  if (name == "bulk-tls13" || name == "bulk-tls12")
    return {3.0 * scale, 32L << 30};
  if (name == "pingpong")
    return {1.0 * scale, 2000000};
  if (name == "hs-ecdsa" || name == "hs-rsa" || name == "resumed")
    return {1.5 * scale, 20000};
  if (name == "conc-10000")
    return {40, 0};
  if (concurrency_of(name))
    return {15, 0};
  if (name == "idle-mem")
    return {12, 0};
  if (name == "dtls-hs")
    return {2.0 * scale, 20000};
  if (name == "dtls-dgram" || name == "dtls-send")
    return {1.0 * scale, 5000000};
  if (batch_of(name))
    return {1.0 * scale, 20000000};
  if (name == "dtls-loss")
    return {quick ? 5.0 : 8.0, 12};
  return {1, 1};
}

Limits limits_of(const std::string &name, const Context &ctx)
{
  return ctx.count ? Limits{600, ctx.count} : limits_for(name, ctx.quick);
}

const char *describe(const std::string &name)
{
  if (name == "bulk-tls13")
    return "one connection, client sends 16 KiB writes for 3 s, TLS 1.3 (MB = 10^6 bytes)";
  if (name == "bulk-tls12")
    return "the same with TLS 1.2 (G_TLS_GNUTLS_PRIORITY / priority string)";
  if (name == "pingpong")
    return "64-byte request, 64-byte echo, sync, 1 s";
  if (name == "hs-ecdsa")
    return "sequential sync full handshakes (+1 byte), ECDSA P-256 server chain";
  if (name == "hs-rsa")
    return "sequential sync full handshakes (+1 byte), RSA-2048 server chain";
  if (name == "resumed")
    return "sequential sync handshakes with one server identity (client cache, tickets)";
  if (concurrency_of(name) && name.find("-interaction") != std::string::npos)
    return "as conc-256, each client with a GTlsInteraction set (as libsoup does)";
  if (concurrency_of(name))
    return "N pairs, both ends async on one main context, all started at once";
  if (name == "idle-mem")
    return "RSS growth per established idle pair, 1000 pairs, after malloc_trim";
  if (name == "dtls-hs")
    return "sequential sync DTLS handshakes over connected UDP pairs";
  if (name == "dtls-dgram")
    return "1200-byte DTLS datagrams received per second";
  if (name == "dtls-send")
    return "1200-byte DTLS datagrams sent per second of the sender's CPU time, nothing read";
  if (batch_of(name) && name.rfind("dtls-batch-send-", 0) == 0)
    return "as dtls-send with N messages per send_messages call (raw GnuTLS: one record per call)";
  if (batch_of(name))
    return "as dtls-dgram with N messages per send_messages and receive_messages call";
  if (name == "dtls-loss")
    return "DTLS handshake time through a relay dropping 20% each way (median)";
  return "";
}

namespace {

struct Options {
  bool raw = false;
  bool quick = false;
  bool child = false;
  bool list = false;
  bool which = false;
  long count = 0;
  std::string files = BENCH_FILES_DIR;
  std::vector<std::string> workloads;
};

bool parse(int argc, char **argv, Options *o)
{
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--raw")
      o->raw = true;
    else if (a == "--quick")
      o->quick = true;
    else if (a == "--child")
      o->child = true;
    else if (a == "--list")
      o->list = true;
    else if (a == "--which")
      o->which = true;
    else if (a == "--count" && i + 1 < argc)
      o->count = atol(argv[++i]);
    else if ((a == "--files" || a == "--workload") && i + 1 < argc)
      (a == "--files" ? o->files : o->workloads.emplace_back()) = argv[++i];
    else
      return false;
  }
  return true;
}

// The GIO module file mapped into this process (from /proc/self/maps).
std::string loaded_tls_module()
{
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return "";
  char line[1024];
  std::string found;
  while (fgets(line, sizeof line, f)) {
    const char *path = strchr(line, '/');
    if (path && strstr(path, "libgio") && strstr(path, ".so") && !strstr(path, "libgio-2.0")) {
      found = path;
      found.erase(found.find_last_not_of("\n") + 1);
      if (found.find("tls") != std::string::npos || found.find("gnutls") != std::string::npos)
        break;
    }
  }
  fclose(f);
  return found;
}

std::string backend_label(bool raw)
{
  if (raw)
    return std::string("raw GnuTLS ") + gnutls_check_version(nullptr);
  GTlsBackend *b = g_tls_backend_get_default();
  return std::string(G_OBJECT_TYPE_NAME(b)) + " " + loaded_tls_module();
}

int run_child(const Options &o)
{
  signal(SIGPIPE, SIG_IGN);
  Context ctx;
  ctx.quick = o.quick;
  ctx.count = o.count;
  ctx.certs = {o.files + "/ca.pem", o.files + "/server-ecdsa-chain.pem", o.files + "/server-ecdsa-key.pem",
               o.files + "/server-chain.pem", o.files + "/server-key.pem"};
  const std::string &name = o.workloads.at(0);
  Result r;
  if (!o.raw && strcmp(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), "GDummyTlsBackend") == 0) {
    r.workload = name;
    r.unavailable("GIO loaded no TLS backend (check GIO_MODULE_DIR / GIO_USE_TLS)");
  } else {
    r = o.raw ? run_raw(name, ctx) : run_gio(name, ctx);
  }
  if (r.workload.empty())
    r.workload = name;
  std::string line = to_json(r, backend_label(o.raw)) + "\n";
  fputs(line.c_str(), stdout);
  fflush(stdout);
  long n = concurrency_of(name);
  bool incomplete = false;
  for (const auto &[k, v] : r.numbers)
    if (k == "completed" && n && v < n)
      incomplete = true;
  // Skip teardown: a backend may still have threads blocked in handshakes.
  _exit(incomplete ? 3 : 0);
}

// Runs one workload in a child; returns its output line (empty on failure)
// and its exit status.
std::string run_in_child(const Options &o, const std::string &name, int *out_status)
{
  std::vector<std::string> args = {"/proc/self/exe", "--child", "--workload", name, "--files", o.files};
  if (o.raw)
    args.push_back("--raw");
  if (o.quick)
    args.push_back("--quick");
  if (o.count)
    args.insert(args.end(), {"--count", std::to_string(o.count)});
  int out[2];
  if (pipe(out) != 0)
    return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    if (name == "bulk-tls12" && !o.raw)
      setenv("G_TLS_GNUTLS_PRIORITY", "NORMAL:-VERS-TLS1.3", 1);
    std::vector<char *> argv;
    for (auto &a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  Limits lim = limits_for(name, o.quick);
  double deadline = now_s() + (o.count ? 3600 : lim.seconds * 2 + 60);
  std::string output;
  char buf[4096];
  bool killed = false;
  for (;;) {
    int left = static_cast<int>((deadline - now_s()) * 1000);
    pollfd p = {out[0], POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) == 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0)
      break;
    output.append(buf, n);
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *out_status = killed ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
  return output;
}

}  // namespace

}  // namespace bench

int main(int argc, char **argv)
{
  using namespace bench;
  Options o;
  if (!parse(argc, argv, &o)) {
    fprintf(stderr,
            "usage: %s [--raw] [--quick] [--files DIR] [--workload NAME]... [--count N] [--list] [--which]\n"
            "Measures the GIO TLS backend GIO loads (GIO_MODULE_DIR, GIO_USE_TLS), or raw GnuTLS\n"
            "with --raw; one JSON line per workload on stdout. --which prints the backend.\n",
            argv[0]);
    return 2;
  }
  if (o.list) {
    for (const char *n : workload_names())
      printf("%-11s %s\n", n, describe(n));
    return 0;
  }
  if (o.which) {
    printf("%s\n", backend_label(o.raw).c_str());
    return 0;
  }
  if (o.child)
    return run_child(o);
  if (o.workloads.empty())
    o.workloads.assign(workload_names().begin(), workload_names().end());
  bool concurrency_failed = false;
  for (const auto &name : o.workloads) {
    Limits lim = limits_for(name, o.quick);
    std::string line;
    int status = 0;
    if (concurrency_of(name) > 256 && concurrency_failed) {
      Result r;
      r.workload = name;
      r.unit = "handshakes/s";
      r.unavailable("skipped: a smaller concurrent run did not complete");
      line = to_json(r, "") + "\n";
    } else {
      line = run_in_child(o, name, &status);
      if (status == 3)
        concurrency_failed = true;
      if (line.empty() || status < 0) {
        Result r;
        r.workload = name;
        r.unavailable(status == -1 ? "killed after " + std::to_string(int(lim.seconds * 2 + 60)) + " s"
                                   : "child failed with status " + std::to_string(status));
        line = to_json(r, "") + "\n";
      }
    }
    fputs(line.c_str(), stdout);
    fflush(stdout);
    fprintf(stderr, "%s", line.c_str());
  }
  return 0;
}
