// gio-tls-gnutls DTLS echo server: many clients on ONE UDP socket.
//
// UDP has no accept(): every client's datagrams arrive on the same socket. A
// DTLS server connection wants a GDatagramBased that carries one peer's
// datagrams only, so this server demultiplexes by peer address:
//
//   shared GSocket --(receive_from)--> peer table keyed by address
//        ^                                  |
//        |                            PeerChannel (a GDatagramBased: a queue
//        |                            of that peer's datagrams; sends go to
//        +-----(send_to peer address)-- the shared socket, to the peer)
//                                           |
//                                   GDtlsServerConnection (one per peer)
//
// Each peer's connection handshakes asynchronously on the main context and
// then echoes every datagram it receives, prefixed with "echo: ". A peer goes
// away when it closes (close_notify), on an error, or after a minute of
// silence. See docs/dtls.md for the pattern and its trade-offs.
//
// With --psk IDENTITY:HEXKEY the server has no certificate and
// authenticates clients by that pre-shared key instead, as Qt's DTLS server
// example does. GIO has no API for pre-shared keys: this uses our module's
// `psk-lookup` signal (docs/user-guide.md, "Beyond GIO's API"), after
// checking that the backend has it.
//
// Uses only the public GIO API; run with GIO_MODULE_DIR pointing at the
// directory holding our module. Everything runs on the main thread.
//
//   gio-tls-gnutls-dtls-echo-server [--port 4433] [--cert FILE] [--key FILE]
//                                   [--psk IDENTITY:HEXKEY] [--exit-after N]
#include <gio/gio.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

// ---------------------------------------------------------------------------
// PeerChannel: one peer's view of the shared socket, as a GDatagramBased.
//
// The application pushes the datagrams it read from that peer's address
// (peer_channel_push); the DTLS connection receives them from the queue.
// What the connection sends goes straight out of the shared socket to the
// peer's address. Only the main thread uses it, so no lock is needed; a wait
// with a timeout therefore just times out (nothing else could fill the queue
// meanwhile); the DTLS connections here only use non-blocking calls.

struct PeerChannel {
  GObject parent_instance;
  GSocket *socket;                              // (owned) the shared socket
  GSocketAddress *peer;                         // (owned)
  std::deque<std::vector<guint8>> *queue;       // (owned) datagrams from the peer
};

struct PeerChannelClass {
  GObjectClass parent_class;
};

static void peer_channel_datagram_based_init(GDatagramBasedInterface *iface) noexcept;

G_DEFINE_TYPE_WITH_CODE(PeerChannel, peer_channel, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_DATAGRAM_BASED,
                                              peer_channel_datagram_based_init))

static PeerChannel *channel_of(gpointer object)
{
  return G_TYPE_CHECK_INSTANCE_CAST(object, peer_channel_get_type(), PeerChannel);
}

static void peer_channel_init(PeerChannel *self)
{
  self->queue = new std::deque<std::vector<guint8>>();
}

static void peer_channel_finalize(GObject *object) noexcept
{
  PeerChannel *self = channel_of(object);
  delete self->queue;
  g_clear_object(&self->socket);
  g_clear_object(&self->peer);
  G_OBJECT_CLASS(peer_channel_parent_class)->finalize(object);
}

static void peer_channel_class_init(PeerChannelClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = peer_channel_finalize;
}

static PeerChannel *peer_channel_new(GSocket *socket, GSocketAddress *peer)
{
  auto *self = channel_of(g_object_new(peer_channel_get_type(), nullptr));
  self->socket = G_SOCKET(g_object_ref(socket));
  self->peer = G_SOCKET_ADDRESS(g_object_ref(peer));
  return self;
}

// Hands the channel one datagram that arrived from its peer.
static void peer_channel_push(PeerChannel *self, const guint8 *data, gsize size)
{
  constexpr gsize kMaxQueued = 64;  // a peer that floods us loses datagrams, as UDP may
  if (self->queue->size() < kMaxQueued)
    self->queue->emplace_back(data, data + size);
}

static GIOCondition peer_channel_condition_check(GDatagramBased *base, GIOCondition condition) noexcept
{
  PeerChannel *self = channel_of(base);
  guint ready = condition & G_IO_OUT;  // the shared socket takes datagrams (or drops them)
  if ((condition & G_IO_IN) && !self->queue->empty())
    ready |= G_IO_IN;
  return static_cast<GIOCondition>(ready);
}

static gint peer_channel_receive_messages(GDatagramBased *base, GInputMessage *messages,
                                          guint num_messages, gint, gint64 timeout,
                                          GCancellable *cancellable, GError **error) noexcept
{
  PeerChannel *self = channel_of(base);
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return -1;
  if (self->queue->empty()) {
    // Nothing else can fill the queue while we wait (one thread), so a
    // blocking call could never succeed: say so rather than hang.
    g_set_error_literal(error, G_IO_ERROR, timeout == 0 ? G_IO_ERROR_WOULD_BLOCK : G_IO_ERROR_TIMED_OUT,
                        "No datagram from this peer yet");
    return -1;
  }
  guint n = 0;
  for (; n < num_messages && !self->queue->empty(); n++) {
    const std::vector<guint8> &d = self->queue->front();
    GInputMessage &m = messages[n];
    gsize copied = 0;
    for (guint v = 0; v < m.num_vectors && copied < d.size(); v++) {
      gsize take = std::min(m.vectors[v].size, d.size() - copied);
      memcpy(m.vectors[v].buffer, d.data() + copied, take);
      copied += take;
    }
    m.bytes_received = copied;
    m.flags = 0;
    if (m.address)
      *m.address = G_SOCKET_ADDRESS(g_object_ref(self->peer));
    if (m.num_control_messages)
      *m.num_control_messages = 0;
    if (m.control_messages)
      *m.control_messages = nullptr;
    self->queue->pop_front();
  }
  return static_cast<gint>(n);
}

static gint peer_channel_send_messages(GDatagramBased *base, GOutputMessage *messages,
                                       guint num_messages, gint flags, gint64,
                                       GCancellable *cancellable, GError **error) noexcept
{
  PeerChannel *self = channel_of(base);
  // Every message goes to this channel's peer, whatever address it names.
  for (guint i = 0; i < num_messages; i++)
    messages[i].address = self->peer;
  // Never block the main loop: a full socket buffer is reported as
  // G_IO_ERROR_WOULD_BLOCK and the DTLS connection tries again later.
  return g_datagram_based_send_messages(G_DATAGRAM_BASED(self->socket), messages, num_messages,
                                        flags, 0, cancellable, error);
}

static gboolean peer_channel_condition_wait(GDatagramBased *base, GIOCondition condition,
                                            gint64 timeout, GCancellable *cancellable,
                                            GError **error) noexcept
{
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return FALSE;
  if (peer_channel_condition_check(base, condition))
    return TRUE;
  g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "No datagram from this peer yet");
  return FALSE;
}

// A source ready while the condition holds (checked on every main loop
// iteration; the shared socket's callback fills the queue on this thread).
struct PeerChannelSource {
  GSource source;
  PeerChannel *channel;  // (owned)
  GIOCondition condition;
};

static gboolean channel_source_prepare(GSource *source, gint *timeout) noexcept
{
  auto *s = reinterpret_cast<PeerChannelSource *>(source);
  *timeout = -1;
  return peer_channel_condition_check(G_DATAGRAM_BASED(s->channel), s->condition) != 0;
}

static gboolean channel_source_check(GSource *source) noexcept
{
  gint unused;
  return channel_source_prepare(source, &unused);
}

static gboolean channel_source_dispatch(GSource *source, GSourceFunc callback, gpointer data) noexcept
{
  auto *s = reinterpret_cast<PeerChannelSource *>(source);
  auto func = reinterpret_cast<GDatagramBasedSourceFunc>(reinterpret_cast<void (*)()>(callback));
  if (!func)
    return G_SOURCE_REMOVE;
  GDatagramBased *base = G_DATAGRAM_BASED(s->channel);
  return func(base, peer_channel_condition_check(base, s->condition), data);
}

static void channel_source_finalize(GSource *source) noexcept
{
  g_object_unref(reinterpret_cast<PeerChannelSource *>(source)->channel);
}

// What g_source_set_closure and g_source_set_dummy_callback need to call a
// GClosure as a GDatagramBasedSourceFunc (GIO's own sources do the same).
static gboolean channel_source_closure_callback(GDatagramBased *base, GIOCondition condition, gpointer data) noexcept
{
  GValue params[2] = {G_VALUE_INIT, G_VALUE_INIT};
  GValue result = G_VALUE_INIT;
  g_value_init(&result, G_TYPE_BOOLEAN);
  g_value_init(&params[0], G_TYPE_DATAGRAM_BASED);
  g_value_set_object(&params[0], base);
  g_value_init(&params[1], G_TYPE_IO_CONDITION);
  g_value_set_flags(&params[1], condition);
  g_closure_invoke(static_cast<GClosure *>(data), &result, 2, params, nullptr);
  gboolean keep = g_value_get_boolean(&result);
  g_value_unset(&result);
  g_value_unset(&params[0]);
  g_value_unset(&params[1]);
  return keep;
}

static GSourceFuncs channel_source_funcs = {
    channel_source_prepare, channel_source_check, channel_source_dispatch, channel_source_finalize,
    reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(channel_source_closure_callback)),
    nullptr,
};

static GSource *peer_channel_create_source(GDatagramBased *base, GIOCondition condition,
                                           GCancellable *cancellable) noexcept
{
  GSource *source = g_source_new(&channel_source_funcs, sizeof(PeerChannelSource));
  auto *s = reinterpret_cast<PeerChannelSource *>(source);
  s->channel = channel_of(g_object_ref(base));
  s->condition = condition;
  if (cancellable) {
    // A cancelled operation must wake up too.
    GSource *cancel = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancel);
    g_source_add_child_source(source, cancel);
    g_source_unref(cancel);
  }
  return source;
}

static void peer_channel_datagram_based_init(GDatagramBasedInterface *iface) noexcept
{
  iface->receive_messages = peer_channel_receive_messages;
  iface->send_messages = peer_channel_send_messages;
  iface->create_source = peer_channel_create_source;
  iface->condition_check = peer_channel_condition_check;
  iface->condition_wait = peer_channel_condition_wait;
}

// ---------------------------------------------------------------------------
// The server: the shared socket, the peer table, one DTLS connection per peer.

namespace {

constexpr gint64 kIdleTimeoutUs = 60 * G_USEC_PER_SEC;
constexpr size_t kMaxPeers = 100;

struct Server;

// One client: its channel, its DTLS connection and the source echoing data.
struct Peer {
  Server *server = nullptr;
  std::string key;                   // the address as text, "127.0.0.1:40000"
  PeerChannel *channel = nullptr;    // (owned)
  GDatagramBased *dtls = nullptr;    // (owned) the GDtlsServerConnection
  GSource *echo_source = nullptr;    // (owned, nullable) once the handshake is done
  GCancellable *cancellable = g_cancellable_new();  // (owned) stops the handshake
  gint64 last_seen = g_get_monotonic_time();

  ~Peer()
  {
    g_cancellable_cancel(cancellable);
    if (echo_source) {
      g_source_destroy(echo_source);
      g_source_unref(echo_source);
    }
    g_clear_object(&dtls);
    g_clear_object(&channel);
    g_object_unref(cancellable);
  }
};

struct Server {
  GSocket *socket = nullptr;             // (owned)
  GTlsCertificate *certificate = nullptr;  // (owned, nullable: PSK only)
  std::string psk_identity;              // --psk: the one identity known
  GBytes *psk_key = nullptr;             // (owned, nullable) --psk: its key
  std::map<std::string, std::unique_ptr<Peer>> peers;
  GMainLoop *loop = nullptr;
  int exit_after = 0;   // quit after this many peers said goodbye (0: never)
  int finished = 0;
};

std::string address_key(GSocketAddress *address)
{
  auto *inet = G_INET_SOCKET_ADDRESS(address);
  char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(inet));
  std::string key = std::string(ip) + ":" + std::to_string(g_inet_socket_address_get_port(inet));
  g_free(ip);
  return key;
}

// Forgets a peer (closing its connection without waiting for anything).
void drop_peer(Server *server, const std::string &key, const char *why)
{
  auto it = server->peers.find(key);
  if (it == server->peers.end())
    return;
  std::printf("%s: %s\n", key.c_str(), why);
  server->peers.erase(it);  // ~Peer cancels and unrefs everything
  server->finished++;
  if (server->exit_after > 0 && server->finished >= server->exit_after)
    g_main_loop_quit(server->loop);
}

// The connection has application data (or news: close_notify, an error).
gboolean on_peer_readable(GDatagramBased *dtls, GIOCondition, gpointer data) noexcept
{
  auto *peer = static_cast<Peer *>(data);
  Server *server = peer->server;
  std::string key = peer->key;  // `peer` may be gone after drop_peer
  for (int i = 0; i < 16; i++) {  // a few at a time, then let others run
    char buf[2048];
    GInputVector in_vector{buf, sizeof buf};
    GInputMessage in{nullptr, &in_vector, 1, 0, 0, nullptr, nullptr};
    GError *error = nullptr;
    gint n = g_datagram_based_receive_messages(dtls, &in, 1, 0, 0, nullptr, &error);
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(error);
      return G_SOURCE_CONTINUE;  // a handshake record or a retransmission, no data
    }
    if (n < 0) {
      std::string why = std::string("error: ") + error->message;
      g_error_free(error);
      drop_peer(server, key, why.c_str());
      return G_SOURCE_REMOVE;
    }
    if (n == 0 || in.bytes_received == 0) {
      drop_peer(server, key, "closed");
      return G_SOURCE_REMOVE;
    }
    std::string text(buf, in.bytes_received);
    std::printf("%s: received \"%s\"\n", key.c_str(), text.c_str());
    std::string reply = "echo: " + text;
    GOutputVector out_vector{reply.data(), reply.size()};
    GOutputMessage out{nullptr, &out_vector, 1, 0, nullptr, 0};
    // Non-blocking: if the socket is full the echo is lost, as UDP may lose it.
    g_datagram_based_send_messages(dtls, &out, 1, 0, 0, nullptr, nullptr);
  }
  return G_SOURCE_CONTINUE;
}

void on_handshake_done(GObject *source, GAsyncResult *result, gpointer data) noexcept
{
  auto *server = static_cast<Server *>(data);
  GError *error = nullptr;
  bool ok = g_dtls_connection_handshake_finish(G_DTLS_CONNECTION(source), result, &error);
  // Find the peer this connection belongs to; it may have been dropped
  // meanwhile (and its address may even belong to a new peer by now).
  Peer *peer = nullptr;
  for (const auto &[key, p] : server->peers)
    if (G_OBJECT(p->dtls) == source)
      peer = p.get();
  if (!peer) {
    g_clear_error(&error);
    return;
  }
  if (!ok) {
    std::string why = std::string("handshake failed: ") + error->message;
    g_error_free(error);
    drop_peer(server, peer->key, why.c_str());
    return;
  }
  GDtlsConnection *conn = G_DTLS_CONNECTION(peer->dtls);
  char *suite = g_dtls_connection_get_ciphersuite_name(conn);  // (transfer full)
  std::printf("%s: handshake done (%s)\n", peer->key.c_str(), suite);
  g_free(suite);
  // From now on, echo whatever the peer sends.
  peer->echo_source = g_datagram_based_create_source(peer->dtls, G_IO_IN, nullptr);
  g_source_set_callback(peer->echo_source, G_SOURCE_FUNC(on_peer_readable), peer, nullptr);
  g_source_attach(peer->echo_source, nullptr);
}

// psk-lookup: the key of `identity`, or NULL to refuse it (transfer full).
GBytes *on_psk_lookup(GObject *, const char *identity, gpointer data) noexcept
{
  auto *server = static_cast<Server *>(data);
  if (server->psk_identity != identity) {
    std::printf("refused PSK identity \"%s\"\n", identity);
    return nullptr;
  }
  return g_bytes_ref(server->psk_key);
}

// A new address spoke: give it a channel and a DTLS server connection.
Peer *add_peer(Server *server, GSocketAddress *from, const std::string &key)
{
  if (server->peers.size() >= kMaxPeers)
    return nullptr;  // full: ignore strangers until someone leaves
  auto peer = std::make_unique<Peer>();
  peer->server = server;
  peer->key = key;
  peer->channel = peer_channel_new(server->socket, from);
  GError *error = nullptr;
  peer->dtls = g_dtls_server_connection_new(G_DATAGRAM_BASED(peer->channel), server->certificate, &error);
  if (!peer->dtls) {
    std::fprintf(stderr, "%s: %s\n", key.c_str(), error->message);
    g_error_free(error);
    return nullptr;
  }
  if (server->psk_key) {
    // Beyond GIO's API: only where the backend has the signal.
    if (!g_signal_lookup("psk-lookup", G_OBJECT_TYPE(peer->dtls))) {
      std::fprintf(stderr, "%s: the TLS backend has no pre-shared keys\n", key.c_str());
      return nullptr;
    }
    g_signal_connect(peer->dtls, "psk-lookup", G_CALLBACK(on_psk_lookup), server);
  }
  // The handshake runs on the main context; its retransmission timers too.
  g_dtls_connection_handshake_async(G_DTLS_CONNECTION(peer->dtls), G_PRIORITY_DEFAULT, peer->cancellable,
                                    on_handshake_done, server);
  Peer *raw = peer.get();
  server->peers.emplace(key, std::move(peer));
  std::printf("%s: new peer (%zu connected)\n", key.c_str(), server->peers.size());
  return raw;
}

// The shared socket is readable: route every waiting datagram to its peer.
gboolean on_socket_readable(GSocket *socket, GIOCondition, gpointer data) noexcept
{
  auto *server = static_cast<Server *>(data);
  for (int i = 0; i < 64; i++) {
    guint8 buf[65536];
    GSocketAddress *from = nullptr;
    GError *error = nullptr;
    gssize n = g_socket_receive_from(socket, &from, reinterpret_cast<char *>(buf), sizeof buf, nullptr, &error);
    if (n < 0) {
      // WOULD_BLOCK: drained. Anything else (an ICMP error for an earlier
      // datagram, say) concerns one datagram, not the socket: carry on later.
      g_error_free(error);
      break;
    }
    std::string key = address_key(from);
    auto it = server->peers.find(key);
    Peer *peer = it != server->peers.end() ? it->second.get() : add_peer(server, from, key);
    if (peer) {
      peer_channel_push(peer->channel, buf, static_cast<gsize>(n));
      peer->last_seen = g_get_monotonic_time();
    }
    g_object_unref(from);
  }
  return G_SOURCE_CONTINUE;
}

// Every few seconds: forget peers that went silent without closing.
gboolean on_sweep(gpointer data) noexcept
{
  auto *server = static_cast<Server *>(data);
  gint64 now = g_get_monotonic_time();
  std::vector<std::string> idle;
  for (const auto &[key, peer] : server->peers)
    if (now - peer->last_seen > kIdleTimeoutUs)
      idle.push_back(key);
  for (const std::string &key : idle)
    drop_peer(server, key, "idle, forgotten");
  return G_SOURCE_CONTINUE;
}

// "IDENTITY:HEXKEY" into its parts; false when it is not that.
bool parse_psk(const char *text, std::string *out_identity, GBytes **out_key)
{
  const char *colon = strrchr(text, ':');
  if (!colon || colon == text || strlen(colon + 1) % 2 != 0 || !colon[1])
    return false;
  std::vector<guint8> key;
  for (const char *p = colon + 1; *p; p += 2) {
    int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);
    if (hi < 0 || lo < 0)
      return false;
    key.push_back(static_cast<guint8>(hi * 16 + lo));
  }
  out_identity->assign(text, colon);
  *out_key = g_bytes_new(key.data(), key.size());
  return true;
}

}  // namespace

int main(int argc, char **argv)
{
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe
  int port = 4433;
  int exit_after = 0;
  g_autofree char *cert_file = g_strdup(DEMO_FILES_DIR "/server-chain.pem");
  g_autofree char *key_file = g_strdup(DEMO_FILES_DIR "/server-key.pem");
  g_autofree char *psk = nullptr;
  const GOptionEntry entries[] = {
      {"port", 'p', 0, G_OPTION_ARG_INT, &port, "UDP port on 127.0.0.1 (0: any free port)", "PORT"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_file, "Certificate chain (PEM)", "FILE"},
      {"key", 0, 0, G_OPTION_ARG_FILENAME, &key_file, "Private key (PEM)", "FILE"},
      {"exit-after", 0, 0, G_OPTION_ARG_INT, &exit_after, "Exit after N peers have gone (0: never)", "N"},
      {"psk", 0, 0, G_OPTION_ARG_STRING, &psk, "Authenticate by this pre-shared key, not a certificate",
       "IDENTITY:HEXKEY"},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
  g_autoptr(GOptionContext) options = g_option_context_new("- DTLS echo server for many peers on one socket");
  g_option_context_add_main_entries(options, entries, nullptr);
  g_autoptr(GError) error = nullptr;
  if (!g_option_context_parse(options, &argc, &argv, &error) || port < 0 || port > 65535) {
    std::fprintf(stderr, "dtls-echo-server: %s\n", error ? error->message : "bad port");
    return 2;
  }
  if (!g_tls_backend_supports_dtls(g_tls_backend_get_default())) {
    std::fprintf(stderr, "dtls-echo-server: the TLS backend has no DTLS\n");
    return 1;
  }

  Server server;
  server.exit_after = exit_after;
  if (psk && !parse_psk(psk, &server.psk_identity, &server.psk_key)) {
    std::fprintf(stderr, "dtls-echo-server: --psk wants IDENTITY:HEXKEY\n");
    return 2;
  }
  if (!psk)
    server.certificate = g_tls_certificate_new_from_files(cert_file, key_file, &error);
  if (!psk && !server.certificate) {
    std::fprintf(stderr, "dtls-echo-server: %s\n", error->message);
    return 1;
  }
  // One unconnected, non-blocking UDP socket for every client.
  server.socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, static_cast<guint16>(port));
  if (!server.socket || !g_socket_bind(server.socket, address, TRUE, &error)) {
    std::fprintf(stderr, "dtls-echo-server: %s\n", error->message);
    return 1;
  }
  g_socket_set_blocking(server.socket, FALSE);
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(server.socket, nullptr);
  std::printf("listening on %s\n", address_key(bound).c_str());

  server.loop = g_main_loop_new(nullptr, FALSE);
  GSource *readable = g_socket_create_source(server.socket, G_IO_IN, nullptr);
  g_source_set_callback(readable, G_SOURCE_FUNC(on_socket_readable), &server, nullptr);
  g_source_attach(readable, nullptr);
  guint sweep = g_timeout_add_seconds(5, on_sweep, &server);
  g_main_loop_run(server.loop);

  g_source_remove(sweep);
  g_source_destroy(readable);
  g_source_unref(readable);
  server.peers.clear();
  g_main_loop_unref(server.loop);
  g_object_unref(server.socket);
  g_clear_object(&server.certificate);
  g_clear_pointer(&server.psk_key, g_bytes_unref);
  return 0;
}
