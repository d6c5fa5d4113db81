// Tests of G_TLS_ERROR_CERTIFICATE_REQUIRED through the public GIO API: a
// client whose certificate the server asked for and then refused (none sent,
// one from an unknown CA, a PKCS#11 one the server does not accept as a
// client certificate) gets that error on its handshake (sync or async), on
// its first read or on its first write (small or larger than the socket
// buffers), and never a broken pipe or a bare "fatal alert". Each
// case runs 50 times: in TLS 1.3 the server decides after the client's
// handshake has ended, and whether the client's write meets the server's
// alert or a connection it already reset depends on timing. Control cases
// check that other errors are unchanged when no certificate was asked for or
// the one sent was accepted.
//
// The protocol version is the process's (the module reads the priority once):
// meson runs the program as it is (TLS 1.3) and with --tls1.2, which sets
// G_TLS_GNUTLS_PRIORITY without TLS 1.3 before the module loads. Test paths
// name the version.
//
// The server is our own module's, run with sync calls on a thread of its own
// over loopback TCP; for two cases openssl s_server (skipped without openssl)
// and a raw GnuTLS server that refuses without an alert; the client runs on the main thread, its blocking calls bounded by
// a watchdog. PKCS#11 runs on a SoftHSM token the test sets up
// (pkcs11/softhsm_token.h) and is skipped without SoftHSM.
#include "connection-harness.h"
#include "pkcs11/softhsm_token.h"
#include "test-peers.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include <fcntl.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace conn_test;

// A GTlsInteraction that answers every PIN request with the token's PIN.
// (GObject type code outside the anonymous namespace: G_DEFINE_TYPE declares
// functions with external names.)
struct PinInteraction {
  GTlsInteraction parent_instance;
};
struct PinInteractionClass {
  GTlsInteractionClass parent_class;
};
G_DEFINE_TYPE(PinInteraction, pin_interaction, G_TYPE_TLS_INTERACTION)

static void pin_interaction_init(PinInteraction *) {}

static GTlsInteractionResult pin_ask_password(GTlsInteraction *, GTlsPassword *password,
                                              GCancellable *, GError **)
{
  g_tls_password_set_value(password, reinterpret_cast<const guchar *>(SoftHsmToken::kPin), -1);
  return G_TLS_INTERACTION_HANDLED;
}

static void pin_interaction_class_init(PinInteractionClass *klass)
{
  G_TLS_INTERACTION_CLASS(klass)->ask_password = pin_ask_password;
}

namespace {

constexpr int kRepetitions = 50;
constexpr gint64 kCaseBudgetUs = 90 * G_USEC_PER_SEC;  // per case, all repetitions

std::unique_ptr<SoftHsmToken> token;  // nullptr when SoftHSM is not installed
bool tls12 = false;                   // --tls1.2: this process runs without TLS 1.3
int failed_writes = 0;                // how many write_error calls ended in a failed write

// What the client offers a server that requires a certificate.
enum class Offer {
  None,       // no certificate
  UnknownCa,  // a self-signed one the server's database does not trust
  Pkcs11,     // the token's server certificate (key on the token): not for client auth
  Valid,      // the test client certificate: accepted (control)
};

// The call in which the client first meets the outcome.
enum class FirstCall {
  Handshake,
  Read,
  Write,           // small writes
  WriteLarge,      // one write of more than the socket buffers take
  AsyncHandshake,  // g_tls_connection_handshake_async, then an async read
};

// The client certificate for `offer` (transfer full), nullptr for None.
GTlsCertificate *offered_certificate(Offer offer)
{
  GError *error = nullptr;
  GTlsCertificate *cert = nullptr;
  switch (offer) {
  case Offer::None:
    return nullptr;
  case Offer::UnknownCa:
    cert = g_tls_certificate_new_from_files(data_path("self-signed.pem").c_str(),
                                            data_path("self-signed-key.pem").c_str(), &error);
    break;
  case Offer::Pkcs11:
    cert = g_tls_certificate_new_from_pkcs11_uris(SoftHsmToken::kCertUri, SoftHsmToken::kKeyUri,
                                                  &error);
    break;
  case Offer::Valid:
    return client_certificate();
  }
  g_assert_no_error(error);
  return cert;
}

// One server connection served on a thread of its own: serve() runs there,
// then the accepted TCP connection is closed (without close_notify), as a
// server that refuses a client does. A subclass calls start() at the end of
// its constructor and join() first thing in its destructor.
class ServerOnThread {
 public:
  ServerOnThread(const ServerOnThread &) = delete;
  ServerOnThread &operator=(const ServerOnThread &) = delete;

  // Waits until the server has closed the connection.
  void join()
  {
    if (thread_)
      g_thread_join(thread_);
    thread_ = nullptr;
  }

 protected:
  explicit ServerOnThread(GIOStream *base) : base_(base) {}
  virtual ~ServerOnThread() { g_object_unref(base_); }
  void start() { thread_ = g_thread_new("server", &ServerOnThread::main, this); }
  virtual void serve() = 0;

  GIOStream *base_;  // (owned) the accepted TCP connection

 private:
  static gpointer main(gpointer data)
  {
    auto *self = static_cast<ServerOnThread *>(data);
    self->serve();
    g_io_stream_close(self->base_, nullptr, nullptr);
    return nullptr;
  }

  GThread *thread_ = nullptr;
};

// Our own server, handshaking with sync calls; after a successful handshake
// it writes `reply` (nullable).
class ServerThread final : public ServerOnThread {
 public:
  ServerThread(GIOStream *base, GTlsAuthenticationMode mode, const char *reply,
               GCancellable *cancellable)
      : ServerOnThread(base), reply_(reply), cancellable_(cancellable)
  {
    GTlsCertificate *cert = server_certificate();
    GTlsDatabase *db = ca_database();
    server_ = new_server(base, cert);
    g_tls_connection_set_database(server_, db);
    g_object_set(server_, "authentication-mode", mode, nullptr);
    g_object_unref(db);
    g_object_unref(cert);
    start();
  }
  ~ServerThread() override
  {
    join();
    g_clear_error(&error_);
    g_object_unref(server_);
  }

  // The server's handshake error (nullptr: it succeeded); after join().
  const GError *error() const { return error_; }

 private:
  void serve() override
  {
    if (g_tls_connection_handshake(server_, cancellable_, &error_) && reply_) {
      GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(server_));
      g_output_stream_write_all(out, reply_, strlen(reply_), nullptr, cancellable_, nullptr);
    }
  }

  GTlsConnection *server_;  // (owned)
  const char *reply_;
  GCancellable *cancellable_;  // (unowned) the test's watchdog
  GError *error_ = nullptr;
};

// A raw GnuTLS server that requires a client certificate from the test CA
// and, when its handshake fails, closes the socket without sending an alert,
// as glib-networking's server does: the client learns of the refusal only
// from the closed connection.
class SilentServer final : public ServerOnThread {
 public:
  explicit SilentServer(GIOStream *base) : ServerOnThread(base) { start(); }
  ~SilentServer() override { join(); }

  // The handshake's GnuTLS result; after join().
  int result() const { return result_; }

 private:
  void serve() override
  {
    int fd = g_socket_get_fd(g_socket_connection_get_socket(G_SOCKET_CONNECTION(base_)));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // GnuTLS's own blocking I/O
    gnutls_certificate_credentials_t creds = nullptr;
    gnutls_certificate_allocate_credentials(&creds);
    g_assert_cmpint(gnutls_certificate_set_x509_key_file(creds, data_path("server-chain.pem").c_str(),
                                                         data_path("server-key.pem").c_str(),
                                                         GNUTLS_X509_FMT_PEM),
                    >=, 0);
    g_assert_cmpint(gnutls_certificate_set_x509_trust_file(creds, data_path("ca.pem").c_str(),
                                                           GNUTLS_X509_FMT_PEM),
                    ==, 1);
    gnutls_session_t session = nullptr;
    gnutls_init(&session, GNUTLS_SERVER);
    gnutls_priority_set_direct(session, tls12 ? "NORMAL:-VERS-TLS1.3" : "NORMAL", nullptr);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert(session, nullptr, 0);
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, 10000);
    do
      result_ = gnutls_handshake(session);
    while (result_ < 0 && !gnutls_error_is_fatal(result_));
    // No alert: the socket just closes (after serve returns).
    gnutls_deinit(session);
    gnutls_certificate_free_credentials(creds);
  }

  int result_ = 0;
};

// Reads one byte; returns the error (nullptr at EOF or with data: asserted not to happen).
GError *read_error(GTlsConnection *client, GCancellable *cancellable)
{
  char byte;
  GError *error = nullptr;
  gssize n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(client)), &byte, 1,
                                 cancellable, &error);
  if (n >= 0)
    g_error("the client read %" G_GSSIZE_FORMAT " bytes from a server that refused it", n);
  return error;
}

// Writes small records until one fails (at most 100 writes, 2 s) and
// returns its error. After the first write, `after_first()` may wait until
// the server has closed, so that the next write finds the connection closed
// (broken pipe or reset, where the server's alert waits unread). A server
// that sent its alert but keeps the connection open (openssl s_server) lets
// every write through: the read that follows must report the refusal.
template <typename AfterFirst>
GError *write_error(GTlsConnection *client, AfterFirst after_first, GCancellable *cancellable)
{
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client));
  gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  for (int n = 0; n < 100 && g_get_monotonic_time() < deadline; n++) {
    GError *error = nullptr;
    if (g_output_stream_write(out, "GET / HTTP/1.1\r\n", 16, cancellable, &error) < 0) {
      failed_writes++;
      return error;
    }
    if (n == 0)
      after_first();
    else
      g_usleep(1000);
  }
  return read_error(client, cancellable);
}

// The async forms, on this thread's main context (20 s bound): a handshake
// and, if it succeeds, a read of one byte. Returns the first error.
GError *async_error(GTlsConnection *client, GCancellable *cancellable)
{
  AsyncResult handshake;
  g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, cancellable, on_handshake, &handshake);
  g_assert_true(iterate_until([&] { return handshake.done; }, 20000));
  if (handshake.error)
    return std::exchange(handshake.error, nullptr);
  struct Read {
    bool done = false;
    gssize n = 0;
    GError *error = nullptr;
  } read;
  char byte;
  g_input_stream_read_async(
      g_io_stream_get_input_stream(G_IO_STREAM(client)), &byte, 1, G_PRIORITY_DEFAULT, cancellable,
      [](GObject *stream, GAsyncResult *result, gpointer data) {
        auto *r = static_cast<Read *>(data);
        r->n = g_input_stream_read_finish(G_INPUT_STREAM(stream), result, &r->error);
        r->done = true;
      },
      &read);
  g_assert_true(iterate_until([&] { return read.done; }, 20000));
  g_assert_cmpint(read.n, <, 0);
  return read.error;
}

// Writes 8 MiB in one call: more than the socket buffers take, so the
// refusal usually meets output waiting to be flushed. Returns its error; if
// it all went through, the read that follows must report the refusal.
GError *large_write_error(GTlsConnection *client, GCancellable *cancellable)
{
  std::vector<char> data(8 << 20, 'x');
  GError *error = nullptr;
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client));
  if (!g_output_stream_write_all(out, data.data(), data.size(), nullptr, cancellable, &error)) {
    failed_writes++;
    return error;
  }
  return read_error(client, cancellable);
}

// A client over `base` offering `offer` to the server at `port`, with
// `first` as its first call; returns its error (nullptr: none). A server
// that succeeded sends `reply` (nullable) first. `after_first_write` as for
// write_error.
template <typename AfterFirst>
GError *client_error(GIOStream *base, guint16 port, Offer offer, FirstCall first, const char *reply,
                     AfterFirst after_first_write, GCancellable *cancellable)
{
  GTlsDatabase *db = ca_database();
  GSocketConnectable *identity = localhost_identity(port);
  GTlsConnection *client = new_client(base, identity, db);
  GTlsCertificate *cert = offered_certificate(offer);
  if (cert)
    g_tls_connection_set_certificate(client, cert);
  GTlsInteraction *interaction = nullptr;
  if (offer == Offer::Pkcs11) {
    interaction = G_TLS_INTERACTION(g_object_new(pin_interaction_get_type(), nullptr));
    g_tls_connection_set_interaction(client, interaction);
  }

  GError *error = nullptr;
  switch (first) {
  case FirstCall::Handshake:
    if (g_tls_connection_handshake(client, cancellable, &error)) {
      g_assert_cmpint(g_tls_connection_get_protocol_version(client), ==,
                      tls12 ? G_TLS_PROTOCOL_VERSION_TLS_1_2 : G_TLS_PROTOCOL_VERSION_TLS_1_3);
      if (reply) {
        std::string got = read_exactly(G_IO_STREAM(client), strlen(reply), cancellable);
        g_assert_cmpstr(got.c_str(), ==, reply);
      }
      error = read_error(client, cancellable);
    }
    break;
  case FirstCall::Read:
    error = read_error(client, cancellable);
    break;
  case FirstCall::Write:
    error = write_error(client, after_first_write, cancellable);
    break;
  case FirstCall::WriteLarge:
    error = large_write_error(client, cancellable);
    break;
  case FirstCall::AsyncHandshake:
    error = async_error(client, cancellable);
    break;
  }
  if (interaction)
    g_object_unref(interaction);
  if (cert)
    g_object_unref(cert);
  g_object_unref(client);
  g_object_unref(identity);
  g_object_unref(db);
  return error;
}

// client_error against the server (a ServerOnThread) that
// `make(accepted base, cancellable)` returns; `inspect(server)` runs once the
// server has closed. Odd `variant`s write again only after that.
template <typename Make, typename Inspect>
GError *run_client(Listener &listener, Offer offer, FirstCall first, int variant, const char *reply,
                   Make make, Inspect inspect)
{
  Watchdog watchdog(20000);
  GIOStream *client_base = connect_loopback(listener.port);
  auto server = make(listener.accept(watchdog.cancellable()), watchdog.cancellable());
  GError *error = client_error(
      client_base, listener.port, offer, first, reply,
      [&] {
        if (variant % 2 == 1)
          server->join();
      },
      watchdog.cancellable());
  server->join();
  inspect(*server);
  g_object_unref(client_base);
  return error;
}

// run_client against our own server with `mode`, returning the server's
// handshake error in *out_server_error.
GError *run_client(Listener &listener, GTlsAuthenticationMode mode, Offer offer, FirstCall first,
                   int variant, const char *reply, GError **out_server_error)
{
  return run_client(
      listener, offer, first, variant, reply,
      [mode, reply](GIOStream *base, GCancellable *cancellable) {
        return std::make_unique<ServerThread>(base, mode, reply, cancellable);
      },
      [out_server_error](ServerThread &server) {
        *out_server_error = server.error() ? g_error_copy(server.error()) : nullptr;
      });
}

// Asserts that `error` is CERTIFICATE_REQUIRED, naming an alert when the
// server sends one.
void assert_refused(const GError *error, int repetition, const char *server_said,
                    bool server_alerts = true)
{
  if (!g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
    g_error("repetition %d: expected CERTIFICATE_REQUIRED, got %s %d: %s (server: %s)", repetition,
            error ? g_quark_to_string(error->domain) : "no error", error ? error->code : 0,
            error ? error->message : "", server_said);
  if (server_alerts && !strstr(error->message, "alert"))
    g_error("repetition %d: the message names no alert: %s", repetition, error->message);
}

struct RefusalCase {
  std::string path;
  Offer offer;
  FirstCall first;
};

void test_refused(gconstpointer data)
{
  const auto *c = static_cast<const RefusalCase *>(data);
  if (c->offer == Offer::Pkcs11 && !token) {
    g_test_skip("SoftHSM (softhsm2) is not installed");
    return;
  }
  Listener listener;
  gint64 deadline = g_get_monotonic_time() + kCaseBudgetUs;
  failed_writes = 0;
  for (int i = 0; i < kRepetitions; i++) {
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    GError *server_error = nullptr;
    GError *error = run_client(listener, G_TLS_AUTHENTICATION_REQUIRED, c->offer, c->first, i,
                               nullptr, &server_error);
    g_assert_nonnull(server_error);
    assert_refused(error, i, server_error->message);
    g_clear_error(&server_error);
    g_clear_error(&error);
  }
  // Half the repetitions write again only after our server has closed: those
  // writes fail (broken pipe or reset) and must have read the alert.
  if (c->first == FirstCall::Write)
    g_assert_cmpint(failed_writes, >=, kRepetitions / 2);
  // Our server reads none of it: every large write fails.
  if (c->first == FirstCall::WriteLarge)
    g_assert_cmpint(failed_writes, ==, kRepetitions);
}

// Calls `run(offer, first, i, repetition)` 10 times (i) for each of None and
// UnknownCa and each first call, within the case's time budget.
template <typename Run>
void repeat_refusals(Run run)
{
  gint64 deadline = g_get_monotonic_time() + kCaseBudgetUs;
  int repetition = 0;
  for (Offer offer : {Offer::None, Offer::UnknownCa})
    for (FirstCall first : {FirstCall::Handshake, FirstCall::Read, FirstCall::Write, FirstCall::WriteLarge,
                            FirstCall::AsyncHandshake})
      for (int i = 0; i < 10; i++, repetition++) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        run(offer, first, i, repetition);
      }
}

// openssl s_server requiring a client certificate refuses none and one from
// an unknown CA, with its own alerts (certificate_required or
// handshake_failure; unknown_ca or bad_certificate), on each first call.
void test_refused_by_openssl()
{
  std::string program;
  if (!have_program("openssl", &program)) {
    g_test_skip("openssl not installed");
    return;
  }
  guint16 port = free_port();
  PeerProcess peer({program, "s_server", "-accept", std::to_string(port), "-cert",
                    data_path("server.pem"), "-key", data_path("server-key.pem"), "-cert_chain",
                    data_path("intermediate-ca.pem"), "-CAfile", data_path("ca.pem"), "-Verify", "1",
                    "-verify_return_error", "-quiet"},
                   GSubprocessFlags(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                    G_SUBPROCESS_FLAGS_STDERR_SILENCE));
  g_assert_true(wait_for_port(port));
  repeat_refusals([port](Offer offer, FirstCall first, int i, int repetition) {
    Watchdog watchdog(20000);
    GIOStream *base = connect_loopback(port);
    GError *error = client_error(
        base, port, offer, first, nullptr, [i] { g_usleep(i % 2 == 1 ? 20000 : 0); },
        watchdog.cancellable());
    assert_refused(error, repetition, "openssl");
    g_clear_error(&error);
    g_object_unref(base);
  });
}

// A server that refuses by closing the connection without an alert: the
// client reports CERTIFICATE_REQUIRED all the same, on each first call.
void test_refused_silently()
{
  Listener listener;
  repeat_refusals([&listener](Offer offer, FirstCall first, int i, int repetition) {
    int result = 0;
    GError *error = run_client(
        listener, offer, first, i, nullptr,
        [](GIOStream *base, GCancellable *) { return std::make_unique<SilentServer>(base); },
        [&result](SilentServer &server) { result = server.result(); });
    g_assert_cmpint(result, <, 0);
    assert_refused(error, repetition, gnutls_strerror(result), false);
    g_clear_error(&error);
  });
}

// A read on another thread while the client writes after the server refused
// it: both report CERTIFICATE_REQUIRED, the read naming the alert (the write
// cannot read the alert while the read runs; whichever of them meets the
// refusal first, the other reports it again).
void test_refused_during_read()
{
  Listener listener;
  for (int i = 0; i < kRepetitions; i++) {
    Watchdog watchdog(20000);
    GIOStream *client_base = connect_loopback(listener.port);
    ServerThread server(listener.accept(watchdog.cancellable()), G_TLS_AUTHENTICATION_REQUIRED,
                        nullptr, watchdog.cancellable());
    GTlsDatabase *db = ca_database();
    GSocketConnectable *identity = localhost_identity(listener.port);
    GTlsConnection *client = new_client(client_base, identity, db);
    GError *error = nullptr;
    struct Reader {
      GTlsConnection *client;
      GCancellable *cancellable;
      GError *error = nullptr;
    } reader{client, watchdog.cancellable()};
    GThread *thread = nullptr;
    if (g_tls_connection_handshake(client, watchdog.cancellable(), &error)) {
      thread = g_thread_new(
          "reader",
          [](gpointer data) -> gpointer {
            auto *r = static_cast<Reader *>(data);
            r->error = read_error(r->client, r->cancellable);
            return nullptr;
          },
          &reader);
      error = write_error(client, [&] { server.join(); }, watchdog.cancellable());
      g_thread_join(thread);
      assert_refused(reader.error, i, "our server");
      // The write names the alert when it read it first (the read then
      // reports the same), or says that the server closed.
      assert_refused(error, i, "our server", false);
    } else {
      assert_refused(error, i, "our server");  // TLS 1.2: the handshake learns it
    }
    g_clear_error(&reader.error);
    g_clear_error(&error);
    g_object_unref(client);
    g_object_unref(identity);
    g_object_unref(db);
    g_object_unref(client_base);
  }
}

// Control: the server asked for no certificate, or accepted ours, and then
// closed without close_notify: the client's read reports that (G_TLS_ERROR_EOF),
// not CERTIFICATE_REQUIRED.
void run_control(GTlsAuthenticationMode mode, Offer offer)
{
  Listener listener;
  for (int i = 0; i < 10; i++) {
    GError *server_error = nullptr;
    GError *error = run_client(listener, mode, offer, FirstCall::Handshake, i, "ok", &server_error);
    g_assert_no_error(server_error);
    g_assert_error(error, G_TLS_ERROR, G_TLS_ERROR_EOF);
    g_clear_error(&error);
  }
}

void test_control_not_requested()
{
  run_control(G_TLS_AUTHENTICATION_NONE, Offer::None);
}

void test_control_accepted()
{
  run_control(G_TLS_AUTHENTICATION_REQUIRED, Offer::Valid);
}

}  // namespace

int main(int argc, char **argv)
{
  // --tls1.2 is ours: set the priority before anything loads the module.
  int kept = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tls1.2") == 0)
      tls12 = true;
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
  if (tls12)
    g_setenv("G_TLS_GNUTLS_PRIORITY", "NORMAL:%COMPAT:!VERS-TLS1.3", TRUE);
  g_test_init(&argc, &argv, nullptr);
  token = SoftHsmToken::create(TEST_FILES_DIR);

  const char *name = g_getenv("GTG_BACKEND_NAME");
  g_assert_nonnull(name);
  std::string expected = std::string("GTlsBackend") + static_cast<char>(g_ascii_toupper(name[0])) + (name + 1);
  g_assert_cmpstr(G_OBJECT_TYPE_NAME(g_tls_backend_get_default()), ==, expected.c_str());

  std::string prefix = std::string("/client-certificate/") + (tls12 ? "tls1.2/" : "tls1.3/");
  static std::vector<RefusalCase> cases;
  const std::pair<const char *, Offer> offers[] = {
      {"none", Offer::None}, {"unknown-ca", Offer::UnknownCa}, {"pkcs11-refused", Offer::Pkcs11}};
  const std::pair<const char *, FirstCall> calls[] = {
      {"handshake", FirstCall::Handshake},
      {"read", FirstCall::Read},
      {"write", FirstCall::Write},
      {"write-large", FirstCall::WriteLarge},
      {"handshake-async", FirstCall::AsyncHandshake}};
  for (const auto &[offer_name, offer] : offers)
    for (const auto &[call_name, call] : calls)
      cases.push_back({prefix + "refused/" + offer_name + "/" + call_name, offer, call});
  for (const RefusalCase &c : cases)
    g_test_add_data_func(c.path.c_str(), &c, test_refused);
  g_test_add_func((prefix + "refused/openssl-s-server").c_str(), test_refused_by_openssl);
  g_test_add_func((prefix + "refused/silent-server").c_str(), test_refused_silently);
  g_test_add_func((prefix + "refused/during-read").c_str(), test_refused_during_read);
  g_test_add_func((prefix + "control/not-requested").c_str(), test_control_not_requested);
  g_test_add_func((prefix + "control/accepted").c_str(), test_control_accepted);

  int result = g_test_run();
  token.reset();
  return result;
}
