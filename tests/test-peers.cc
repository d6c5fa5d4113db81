#include "test-peers.h"

#include "connection-harness.h"

#include <gnutls/gnutls.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace conn_test {

// ---------------------------------------------------------------------------
// Plain sockets

int posix_listen(guint16 *out_port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint(fd, >=, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(bind(fd, reinterpret_cast<sockaddr *>(&sin), sizeof sin), ==, 0);
  g_assert_cmpint(listen(fd, 16), ==, 0);
  socklen_t len = sizeof sin;
  g_assert_cmpint(getsockname(fd, reinterpret_cast<sockaddr *>(&sin), &len), ==, 0);
  *out_port = ntohs(sin.sin_port);
  return fd;
}

int posix_connect(guint16 port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr *>(&sin), sizeof sin) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

guint16 free_port()
{
  guint16 port = 0;
  int fd = posix_listen(&port);
  close(fd);
  return port;
}

bool wait_for_port(guint16 port)
{
  for (int i = 0; i < 200; i++) {
    int fd = posix_connect(port);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    g_usleep(25000);
  }
  return false;
}

// ---------------------------------------------------------------------------
// Raw GnuTLS peers

namespace {

int raw_handshake(gnutls_session_t s)
{
  int ret;
  do
    ret = gnutls_handshake(s);
  while (ret < 0 && !gnutls_error_is_fatal(ret));
  return ret;
}

// Reads until the peer's close_notify, EOF, an error, or a 10 s silence.
std::string raw_read_to_end(gnutls_session_t s)
{
  std::string got;
  gnutls_record_set_timeout(s, 10000);
  for (int i = 0; i < 1000; i++) {
    char buf[256];
    ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
      continue;
    if (n <= 0)
      break;
    got.append(buf, n);
  }
  return got;
}

}  // namespace

RawServer::RawServer(int n) : connections(n)
{
  listen_fd = posix_listen(&port);
  thread = g_thread_new("raw-server", &RawServer::main, this);
}

void RawServer::join()
{
  g_thread_join(thread);
  thread = nullptr;
  close(listen_fd);
}

gpointer RawServer::main(gpointer data)
{
  auto *self = static_cast<RawServer *>(data);
  gnutls_certificate_credentials_t creds = nullptr;
  gnutls_certificate_allocate_credentials(&creds);
  int ret = gnutls_certificate_set_x509_key_file(creds, data_path("server-chain.pem").c_str(),
                                                 data_path("server-key.pem").c_str(),
                                                 GNUTLS_X509_FMT_PEM);
  gnutls_datum_t key{nullptr, 0};
  gnutls_session_ticket_key_generate(&key);
  if (ret < 0)
    self->failure = std::string("credentials: ") + gnutls_strerror(ret);
  for (int i = 0; i < self->connections && self->failure.empty(); i++) {
    pollfd pfd{self->listen_fd, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) {
      self->failure = "no connection within 10 s";
      break;
    }
    int fd = accept4(self->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      self->failure = "accept failed";
      break;
    }
    gnutls_session_t s = nullptr;
    gnutls_init(&s, GNUTLS_SERVER);
    gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
    gnutls_session_ticket_enable_server(s, &key);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, 10000);
    ret = raw_handshake(s);
    if (ret < 0) {
      self->failure = std::string("handshake: ") + gnutls_strerror(ret);
    } else {
      char name[256] = {};
      size_t len = sizeof name - 1;
      unsigned type = 0;
      if (gnutls_server_name_get(s, name, &len, &type, 0) == GNUTLS_E_SUCCESS &&
          type == GNUTLS_NAME_DNS)
        self->sni.emplace_back(name, len);
      else
        self->sni.emplace_back();
      self->resumed.push_back(gnutls_session_is_resumed(s) != 0);
      gnutls_record_send(s, "hi\n", 3);
      raw_read_to_end(s);
      gnutls_bye(s, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(s);
    close(fd);
  }
  gnutls_free(key.data);
  gnutls_certificate_free_credentials(creds);
  return nullptr;
}

RawClient::RawClient(guint16 p, int n) : port(p), connections(n)
{
  thread = g_thread_new("raw-client", &RawClient::main, this);
}

void RawClient::join()
{
  g_thread_join(thread);
  thread = nullptr;
}

gpointer RawClient::main(gpointer data)
{
  auto *self = static_cast<RawClient *>(data);
  gnutls_certificate_credentials_t creds = nullptr;
  gnutls_certificate_allocate_credentials(&creds);
  gnutls_datum_t session_data{nullptr, 0};
  for (int i = 0; i < self->connections; i++) {
    int fd = posix_connect(self->port);
    if (fd < 0) {
      self->failure = "connect failed";
      break;
    }
    gnutls_session_t s = nullptr;
    gnutls_init(&s, GNUTLS_CLIENT);
    gnutls_set_default_priority(s);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", strlen("localhost"));
    if (session_data.data)
      gnutls_session_set_data(s, session_data.data, session_data.size);
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, 10000);
    int ret = raw_handshake(s);
    if (ret < 0) {
      self->failure = std::string("handshake: ") + gnutls_strerror(ret);
    } else {
      self->resumed.push_back(gnutls_session_is_resumed(s) != 0);
      // Reading to the end also takes in a TLS 1.3 ticket.
      self->received.push_back(raw_read_to_end(s));
      gnutls_free(session_data.data);
      session_data = {nullptr, 0};
      gnutls_session_get_data2(s, &session_data);
      gnutls_bye(s, GNUTLS_SHUT_WR);
    }
    gnutls_deinit(s);
    close(fd);
    if (!self->failure.empty())
      break;
  }
  gnutls_free(session_data.data);
  gnutls_certificate_free_credentials(creds);
  return nullptr;
}

// ---------------------------------------------------------------------------
// Peer programs

bool have_program(const char *name, std::string *out_path)
{
  char *path = g_find_program_in_path(name);
  if (!path)
    return false;
  *out_path = path;
  g_free(path);
  return true;
}

static void die_with_parent(gpointer)
{
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

PeerProcess::PeerProcess(const std::vector<std::string> &argv, GSubprocessFlags flags)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);
  g_subprocess_launcher_set_child_setup(launcher, die_with_parent, nullptr, nullptr);
  std::vector<const char *> args;
  for (const std::string &a : argv)
    args.push_back(a.c_str());
  args.push_back(nullptr);
  GError *error = nullptr;
  process = g_subprocess_launcher_spawnv(launcher, args.data(), &error);
  g_assert_no_error(error);
  g_object_unref(launcher);
}

PeerProcess::~PeerProcess()
{
  g_subprocess_force_exit(process);
  g_subprocess_wait(process, nullptr, nullptr);
  g_object_unref(process);
}

std::string PeerProcess::read_stdout(GCancellable *cancellable)
{
  GInputStream *out = g_subprocess_get_stdout_pipe(process);
  std::string text;
  for (int i = 0; i < 10000; i++) {
    char buf[1024];
    gssize n = g_input_stream_read(out, buf, sizeof buf, cancellable, nullptr);
    if (n <= 0)
      break;
    text.append(buf, n);
  }
  return text;
}

}  // namespace conn_test
