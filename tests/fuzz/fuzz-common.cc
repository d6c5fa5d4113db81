#include "fuzz-common.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>

namespace fuzz {

void init()
{
  // The fuzzers load the module the way the tests do: from the build tree
  // only, so the system's glib-networking cannot answer instead.
  g_setenv("GIO_MODULE_DIR", FUZZ_MODULE_DIR, TRUE);
  g_setenv("GIO_USE_TLS", FUZZ_BACKEND_NAME, TRUE);
  GTlsBackend *backend = g_tls_backend_get_default();
  const char *name = G_OBJECT_TYPE_NAME(backend);
  if (!g_tls_backend_supports_tls(backend) || !g_str_has_prefix(name, "GTlsBackend") ||
      g_ascii_strcasecmp(name + strlen("GTlsBackend"), FUZZ_BACKEND_NAME) != 0) {
    g_printerr("fuzz: the TLS backend is %s, not ours (GIO_MODULE_DIR=%s)\n", name,
               FUZZ_MODULE_DIR);
    abort();
  }
}

std::string data_path(const char *name)
{
  return std::string(FUZZ_FILES_DIR "/") + name;
}

// ---------------------------------------------------------------------------
// Reader

uint8_t Reader::byte()
{
  return pos_ < size_ ? data_[pos_++] : 0;
}

std::string Reader::piece()
{
  size_t len = size_t(byte()) << 8;
  len |= byte();
  len = std::min(len, size_ - std::min(pos_, size_));
  std::string out(reinterpret_cast<const char *>(data_ + pos_), len);
  pos_ += len;
  return out;
}

std::string Reader::rest()
{
  if (pos_ >= size_)
    return {};
  std::string out(reinterpret_cast<const char *>(data_ + pos_), size_ - pos_);
  pos_ = size_;
  return out;
}

void append_piece(std::string &out, const std::string &data)
{
  size_t len = std::min<size_t>(data.size(), 0xffff);
  out += static_cast<char>(len >> 8);
  out += static_cast<char>(len & 0xff);
  out.append(data, 0, len);
}

// ---------------------------------------------------------------------------
// In-memory stream

GIOStream *memory_stream(const std::string &input)
{
  GBytes *bytes = g_bytes_new(input.data(), input.size());
  GInputStream *in = g_memory_input_stream_new_from_bytes(bytes);
  GOutputStream *out = g_memory_output_stream_new_resizable();
  GIOStream *stream = g_simple_io_stream_new(in, out);
  g_object_unref(in);
  g_object_unref(out);
  g_bytes_unref(bytes);
  return stream;
}

std::string memory_stream_output(GIOStream *stream)
{
  auto *out = G_MEMORY_OUTPUT_STREAM(g_io_stream_get_output_stream(stream));
  return std::string(static_cast<const char *>(g_memory_output_stream_get_data(out)),
                     g_memory_output_stream_get_data_size(out));
}

// ---------------------------------------------------------------------------
// In-memory datagrams

}  // namespace fuzz

G_BEGIN_DECLS
#define FUZZ_TYPE_DATAGRAMS (fuzz_datagrams_get_type())
G_DECLARE_FINAL_TYPE(FuzzDatagrams, fuzz_datagrams, FUZZ, DATAGRAMS, GObject)
G_END_DECLS

struct _FuzzDatagrams {
  GObject parent_instance;
  std::deque<std::string> *incoming;  // (owned)
  std::vector<std::string> *sent;     // (owned)
};

static void fuzz_datagrams_iface_init(GDatagramBasedInterface *iface);

G_DEFINE_TYPE_WITH_CODE(FuzzDatagrams, fuzz_datagrams, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_DATAGRAM_BASED, fuzz_datagrams_iface_init))

static void fuzz_datagrams_init(FuzzDatagrams *self)
{
  self->incoming = new std::deque<std::string>();
  self->sent = new std::vector<std::string>();
}

static void fuzz_datagrams_finalize(GObject *object)
{
  auto *self = FUZZ_DATAGRAMS(object);
  delete self->incoming;
  delete self->sent;
  G_OBJECT_CLASS(fuzz_datagrams_parent_class)->finalize(object);
}

static void fuzz_datagrams_class_init(FuzzDatagramsClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = fuzz_datagrams_finalize;
}

static gint fuzz_datagrams_receive(GDatagramBased *base, GInputMessage *messages, guint n,
                                   gint, gint64, GCancellable *, GError **error) noexcept
{
  auto *self = FUZZ_DATAGRAMS(base);
  guint done = 0;
  for (; done < n && !self->incoming->empty(); done++) {
    const std::string d = std::move(self->incoming->front());
    self->incoming->pop_front();
    GInputMessage &m = messages[done];
    size_t off = 0;
    for (guint v = 0; m.vectors && v < m.num_vectors && off < d.size(); v++) {
      size_t len = std::min(d.size() - off, m.vectors[v].size);
      memcpy(m.vectors[v].buffer, d.data() + off, len);
      off += len;
    }
    m.bytes_received = off;
    m.flags = G_SOCKET_MSG_NONE;
    if (m.address)
      *m.address = nullptr;
    if (m.control_messages)
      *m.control_messages = nullptr;
    if (m.num_control_messages)
      *m.num_control_messages = 0;
  }
  if (done == 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "fuzz input exhausted");
    return -1;
  }
  return gint(done);
}

static gint fuzz_datagrams_send(GDatagramBased *base, GOutputMessage *messages, guint n, gint,
                                gint64, GCancellable *, GError **) noexcept
{
  auto *self = FUZZ_DATAGRAMS(base);
  for (guint i = 0; i < n; i++) {
    std::string d;
    for (guint v = 0; v < messages[i].num_vectors; v++)
      d.append(static_cast<const char *>(messages[i].vectors[v].buffer), messages[i].vectors[v].size);
    messages[i].bytes_sent = guint(d.size());
    self->sent->push_back(std::move(d));
  }
  return gint(n);
}

// A source that is always ready, as the socket is.
struct ReadySource {
  GSource source;
  GDatagramBased *base;  // (owned)
  GIOCondition condition;
};

static gboolean ready_prepare(GSource *, gint *timeout) noexcept
{
  *timeout = 0;
  return TRUE;
}

static gboolean ready_dispatch(GSource *source, GSourceFunc callback, gpointer data) noexcept
{
  auto *self = reinterpret_cast<ReadySource *>(source);
  if (!callback)
    return G_SOURCE_REMOVE;
  return reinterpret_cast<GDatagramBasedSourceFunc>(reinterpret_cast<void (*)()>(callback))(
      self->base, self->condition, data);
}

static void ready_finalize(GSource *source) noexcept
{
  g_object_unref(reinterpret_cast<ReadySource *>(source)->base);
}

static GSourceFuncs ready_funcs = {ready_prepare, nullptr, ready_dispatch, ready_finalize,
                                   nullptr, nullptr};

static GSource *fuzz_datagrams_create_source(GDatagramBased *base, GIOCondition condition,
                                             GCancellable *cancellable) noexcept
{
  GSource *source = g_source_new(&ready_funcs, sizeof(ReadySource));
  auto *self = reinterpret_cast<ReadySource *>(source);
  self->base = G_DATAGRAM_BASED(g_object_ref(base));
  self->condition = condition;
  if (cancellable) {
    GSource *cancel = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancel);
    g_source_add_child_source(source, cancel);
    g_source_unref(cancel);
  }
  return source;
}

static GIOCondition fuzz_datagrams_condition_check(GDatagramBased *, GIOCondition condition) noexcept
{
  return GIOCondition(condition & (G_IO_IN | G_IO_OUT));
}

static gboolean fuzz_datagrams_condition_wait(GDatagramBased *, GIOCondition, gint64,
                                              GCancellable *cancellable, GError **error) noexcept
{
  return !g_cancellable_set_error_if_cancelled(cancellable, error);
}

static void fuzz_datagrams_iface_init(GDatagramBasedInterface *iface)
{
  iface->receive_messages = fuzz_datagrams_receive;
  iface->send_messages = fuzz_datagrams_send;
  iface->create_source = fuzz_datagrams_create_source;
  iface->condition_check = fuzz_datagrams_condition_check;
  iface->condition_wait = fuzz_datagrams_condition_wait;
}

namespace fuzz {

GDatagramBased *memory_datagrams(std::vector<std::string> datagrams)
{
  auto *self = FUZZ_DATAGRAMS(g_object_new(FUZZ_TYPE_DATAGRAMS, nullptr));
  for (std::string &d : datagrams)
    self->incoming->push_back(std::move(d));
  return G_DATAGRAM_BASED(self);
}

std::vector<std::string> memory_datagrams_sent(GDatagramBased *base)
{
  return *FUZZ_DATAGRAMS(base)->sent;
}

// ---------------------------------------------------------------------------
// Loopback handshakes

void socket_pair(GIOStream **out_a, GIOStream **out_b)
{
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    abort();
  GIOStream **outs[2] = {out_a, out_b};
  for (int i = 0; i < 2; i++) {
    GError *error = nullptr;
    GSocket *socket = g_socket_new_from_fd(fds[i], &error);
    if (!socket)
      g_error("g_socket_new_from_fd: %s", error->message);
    g_socket_set_timeout(socket, 10);
    *outs[i] = G_IO_STREAM(g_socket_connection_factory_create_connection(socket));
    g_object_unref(socket);
  }
}

void inject_and_shutdown(GIOStream *stream, const std::string &data)
{
  GSocket *socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream));
  int fd = g_socket_get_fd(socket);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0)
      break;
    off += size_t(n);
  }
  shutdown(fd, SHUT_WR);
}

namespace {

struct HandshakeState {
  int pending = 2;
  bool ok = true;
};

void on_handshake(GObject *source, GAsyncResult *result, gpointer data) noexcept
{
  auto *state = static_cast<HandshakeState *>(data);
  GError *error = nullptr;
  if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error)) {
    state->ok = false;
    g_error_free(error);
  }
  state->pending--;
}

}  // namespace

bool handshake_pair(GTlsConnection *client, GTlsConnection *server)
{
  GMainContext *context = g_main_context_new();
  g_main_context_push_thread_default(context);
  HandshakeState state;
  GCancellable *cancellable = g_cancellable_new();
  g_tls_connection_handshake_async(client, G_PRIORITY_DEFAULT, cancellable, on_handshake, &state);
  g_tls_connection_handshake_async(server, G_PRIORITY_DEFAULT, cancellable, on_handshake, &state);
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (state.pending > 0) {
    if (g_get_monotonic_time() > deadline)
      g_cancellable_cancel(cancellable);
    g_main_context_iteration(context, TRUE);
  }
  g_object_unref(cancellable);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
  return state.ok;
}

GTlsCertificate *server_certificate()
{
  static GTlsCertificate *cert = [] {
    GError *error = nullptr;
    GTlsCertificate *c =
        g_tls_certificate_new_from_file(data_path("server-and-key.pem").c_str(), &error);
    if (!c)
      g_error("server certificate: %s", error->message);
    return c;
  }();
  return cert;
}

void accept_any_certificate(GTlsConnection *conn)
{
  g_signal_connect(conn, "accept-certificate",
                   G_CALLBACK(+[](GTlsConnection *, GTlsCertificate *, GTlsCertificateFlags,
                                  gpointer) noexcept -> gboolean { return TRUE; }),
                   nullptr);
}

void drain(GIOStream *stream, size_t limit)
{
  GInputStream *in = g_io_stream_get_input_stream(stream);
  char buf[4096];
  size_t total = 0;
  while (total < limit) {
    GError *error = nullptr;
    gssize n = g_input_stream_read(in, buf, sizeof buf, nullptr, &error);
    if (n <= 0) {
      g_clear_error(&error);
      break;
    }
    total += size_t(n);
  }
}

}  // namespace fuzz
