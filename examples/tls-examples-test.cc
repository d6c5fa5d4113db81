// Runs the TLS examples once over loopback: the echo server in the
// background (GSubprocess, port 0, the port read from its first line), then
// the GApplication client and the Python client against it, checking what
// they print. Every wait is bounded; the server is killed at the end of each
// case.
//
// Paths come from the environment (examples/meson.build sets them):
//   GTG_EXAMPLE_SERVER, GTG_EXAMPLE_CLIENT  the two programs
//   GTG_EXAMPLE_PY, GTG_PYTHON              tls-client.py and the interpreter
//   GTG_EXAMPLE_FILES                       tests/files (the test PKI)
#include <gio/gio.h>

#include <csignal>
#include <sys/prctl.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kTimeoutSeconds = 30;

std::string env_path(const char *name)
{
  const char *value = g_getenv(name);
  if (!value)
    g_error("%s is not set", name);
  return value;
}

std::string pki(const char *name)
{
  return env_path("GTG_EXAMPLE_FILES") + "/" + name;
}

struct Run {
  int status = -1;  // exit status, or -1 when killed on timeout
  std::string out;
};

gboolean on_timeout(gpointer data)
{
  *static_cast<bool *>(data) = true;
  return G_SOURCE_REMOVE;
}

// Runs a program to completion (at most kTimeoutSeconds), collecting stdout
// and stderr together.
Run run(const std::vector<std::string> &args)
{
  std::vector<const char *> argv;
  for (const auto &a : args)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::string line;
  for (const auto &a : args)
    line += a + " ";
  g_test_message("running: %s", line.c_str());

  GError *error = nullptr;
  GSubprocess *proc = g_subprocess_newv(argv.data(),
                                        static_cast<GSubprocessFlags>(
                                            G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                            G_SUBPROCESS_FLAGS_STDERR_MERGE),
                                        &error);
  g_assert_no_error(error);
  struct Wait {
    bool done = false;
    GAsyncResult *result = nullptr;
  } wait;
  bool timed_out = false;
  guint timer = g_timeout_add_seconds(kTimeoutSeconds, on_timeout, &timed_out);
  g_subprocess_communicate_utf8_async(
      proc, nullptr, nullptr,
      [](GObject *, GAsyncResult *res, gpointer data) {
        auto *w = static_cast<Wait *>(data);
        w->result = G_ASYNC_RESULT(g_object_ref(res));
        w->done = true;
      },
      &wait);
  while (!wait.done && !timed_out)
    g_main_context_iteration(nullptr, TRUE);
  Run r;
  if (!wait.done) {
    g_subprocess_force_exit(proc);
    while (!wait.done)
      g_main_context_iteration(nullptr, TRUE);
  } else {
    g_source_remove(timer);
  }
  char *out = nullptr;
  g_subprocess_communicate_utf8_finish(proc, wait.result, &out, nullptr, &error);
  g_assert_no_error(error);
  r.out = out ? out : "";
  g_free(out);
  if (!timed_out)
    r.status = g_subprocess_get_exit_status(proc);
  g_object_unref(wait.result);
  g_object_unref(proc);
  g_test_message("exit status %d, output:\n%s", r.status, r.out.c_str());
  return r;
}

// The echo server running in the background; killed when this goes away.
class EchoServer {
public:
  explicit EchoServer(std::vector<std::string> extra_args)
  {
    std::vector<std::string> args = {env_path("GTG_EXAMPLE_SERVER"), "--port", "0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<const char *> argv;
    for (const auto &a : args)
      argv.push_back(a.c_str());
    argv.push_back(nullptr);
    // If this test dies on a failed assertion, the server must not outlive
    // it (holding the test's output pipe open): the kernel kills it.
    GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_child_setup(
        launcher, [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGKILL); }, nullptr, nullptr);
    GError *error = nullptr;
    proc_ = g_subprocess_launcher_spawnv(launcher, argv.data(), &error);
    g_object_unref(launcher);
    g_assert_no_error(error);

    // The first line says which port the server listens on.
    GDataInputStream *lines = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc_));
    struct Wait {
      bool done = false;
      char *line = nullptr;
    } wait;
    bool timed_out = false;
    guint timer = g_timeout_add_seconds(kTimeoutSeconds, on_timeout, &timed_out);
    g_data_input_stream_read_line_async(
        lines, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *res, gpointer data) {
          auto *w = static_cast<Wait *>(data);
          w->line = g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), res,
                                                         nullptr, nullptr);
          w->done = true;
        },
        &wait);
    while (!wait.done && !timed_out)
      g_main_context_iteration(nullptr, TRUE);
    if (!wait.done) {
      g_subprocess_force_exit(proc_);
      while (!wait.done)
        g_main_context_iteration(nullptr, TRUE);
      g_error("the echo server did not start within %d s", kTimeoutSeconds);
    }
    g_source_remove(timer);
    unsigned port = 0;
    if (!wait.line || std::sscanf(wait.line, "listening on port %u", &port) != 1)
      g_error("unexpected first line from the echo server: %s", wait.line ? wait.line : "(eof)");
    port_ = std::to_string(port);
    g_free(wait.line);
    g_object_unref(lines);
  }

  ~EchoServer()
  {
    g_subprocess_force_exit(proc_);
    g_subprocess_wait(proc_, nullptr, nullptr);
    g_object_unref(proc_);
  }

  const std::string &port() const { return port_; }

private:
  GSubprocess *proc_ = nullptr;
  std::string port_;
};

void assert_contains(const std::string &haystack, const char *needle)
{
  if (haystack.find(needle) == std::string::npos)
    g_error("expected \"%s\" in the output:\n%s", needle, haystack.c_str());
}

std::string expected_backend()
{
  const char *name = g_getenv("GTG_BACKEND_NAME");
  std::string camel = name ? name : "gnutls";
  camel[0] = static_cast<char>(g_ascii_toupper(camel[0]));
  return "TLS backend: GTlsBackend" + camel;
}

// The client reports the negotiated parameters, the verified chain and the
// echoed line.
void test_client_and_echo_server()
{
  EchoServer server({"--alpn", "echo/1"});
  Run r = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
               pki("ca.pem"), "--alpn", "h2", "--alpn", "echo/1", "--send", "hello, TLS"});
  g_assert_cmpint(r.status, ==, 0);
  assert_contains(r.out, expected_backend().c_str());
  assert_contains(r.out, "protocol: TLS 1.");
  assert_contains(r.out, "cipher suite: TLS_");
  assert_contains(r.out, "ALPN: echo/1");
  assert_contains(r.out, "certificate 0: O=gio-tls-gnutls tests,CN=server.example.test");
  assert_contains(r.out, "verification: trusted");
  assert_contains(r.out, "received: hello, TLS");
}

// --min-version and --ciphers reach the connection (our properties).
void test_client_version_and_ciphers()
{
  EchoServer server({});
  Run tls13 = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
                   pki("ca.pem"), "--min-version", "1.3", "--ciphers", "TLS_AES_128_GCM_SHA256",
                   "--send", "one"});
  g_assert_cmpint(tls13.status, ==, 0);
  assert_contains(tls13.out, "protocol: TLS 1.3");
  assert_contains(tls13.out, "cipher suite: TLS_AES_128_GCM_SHA256");

  Run tls12 = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
                   pki("ca.pem"), "--min-version", "1.2", "--ciphers",
                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                   "--send", "two"});
  g_assert_cmpint(tls12.status, ==, 0);
  assert_contains(tls12.out, "protocol: TLS 1.2");
  assert_contains(tls12.out, "cipher suite: TLS_ECDHE_RSA_WITH_");

  Run unknown = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
                     pki("ca.pem"), "--ciphers", "TLS_NO_SUCH_SUITE"});
  g_assert_cmpint(unknown.status, ==, 1);
  assert_contains(unknown.out, "TLS_NO_SUCH_SUITE");
}

// Without the test CA the chain is not trusted: the client says why and fails.
void test_client_untrusted()
{
  EchoServer server({});
  Run r = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port()});
  g_assert_cmpint(r.status, ==, 1);
  assert_contains(r.out, "connection failed: ");
  assert_contains(r.out, "not signed by a trusted certificate authority");
}

// --require-client-cert: a client with the test client certificate gets in,
// one without is refused.
void test_client_certificate()
{
  EchoServer server({"--require-client-cert", "--ca-file", pki("ca.pem")});
  Run with = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
                  pki("ca.pem"), "--cert", pki("client.pem"), "--key", pki("client-key.pem"),
                  "--send", "with a certificate"});
  g_assert_cmpint(with.status, ==, 0);
  assert_contains(with.out, "received: with a certificate");

  Run without = run({env_path("GTG_EXAMPLE_CLIENT"), "localhost", server.port(), "--ca-file",
                     pki("ca.pem"), "--send", "without"});
  g_assert_cmpint(without.status, ==, 1);
  assert_contains(without.out, "failed: ");
}

// The PyGObject client runs on this module too.
void test_python_client()
{
  const char *python = g_getenv("GTG_PYTHON");
  if (g_getenv("GTG_SANITIZED")) {
    // An interpreter that is not built with the sanitizer cannot load a
    // sanitized module (its runtime must come first in the process).
    g_test_skip("the module is built with a sanitizer");
    return;
  }
  Run probe = run({python ? python : "python3", "-c", "import gi"});
  if (probe.status != 0) {
    g_test_skip("PyGObject (python3-gi) is not available");
    return;
  }
  EchoServer server({});
  Run r = run({python, env_path("GTG_EXAMPLE_PY"), "localhost", server.port(), pki("ca.pem")});
  g_assert_cmpint(r.status, ==, 0);
  assert_contains(r.out, expected_backend().c_str());
  assert_contains(r.out, "protocol: TLS 1.");
  assert_contains(r.out, "server certificate: O=gio-tls-gnutls tests,CN=server.example.test");
}

}  // namespace

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/examples/tls-client/echo-server", test_client_and_echo_server);
  g_test_add_func("/examples/tls-client/untrusted", test_client_untrusted);
  g_test_add_func("/examples/tls-client/version-and-ciphers", test_client_version_and_ciphers);
  g_test_add_func("/examples/tls-echo-server/client-certificate", test_client_certificate);
  g_test_add_func("/examples/tls-client-py", test_python_client);
  return g_test_run();
}
