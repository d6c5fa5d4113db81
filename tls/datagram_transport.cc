#include "datagram_transport.h"

#include <glib/gi18n-lib.h>
#include <gnutls/dtls.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

namespace gtg {

namespace {

constexpr size_t kMaxDatagram = 65536;
// Datagrams from strangers or without a cookie dropped per call, at most.
constexpr int kMaxDroppedPerCall = 64;

// The per-process secret of the stateless cookies.
gnutls_datum_t *cookie_key()
{
  static gnutls_datum_t key{nullptr, 0};
  static std::once_flag once;
  std::call_once(once, [] { gnutls_key_generate(&key, GNUTLS_COOKIE_KEY_SIZE); });
  return &key;
}

std::vector<guint8> native_address(GSocketAddress *address)
{
  std::vector<guint8> bytes;
  if (!address)
    return bytes;
  gssize size = g_socket_address_get_native_size(address);
  if (size <= 0)
    return bytes;
  bytes.resize(static_cast<size_t>(size));
  if (!g_socket_address_to_native(address, bytes.data(), bytes.size(), nullptr))
    bytes.clear();
  return bytes;
}

// Where a HelloVerifyRequest goes (gnutls_dtls_cookie_send's push target).
struct CookieReply {
  GDatagramBased *base;
  GSocketAddress *to;
};

// `address` in words for debug logs ("127.0.0.1:4433"); empty when unknown.
std::string describe_address(GSocketAddress *address)
{
  if (!address)
    return {};
  char *text = g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(address));
  std::string words = text ? text : "";
  g_free(text);
  return words;
}

// " from ADDRESS" / " to ADDRESS" for a debug line, or nothing when unknown.
std::string address_clause(const char *preposition, GSocketAddress *address)
{
  std::string words = describe_address(address);
  return words.empty() ? words : std::string(" ") + preposition + " " + words;
}

ssize_t push_cookie_reply(gnutls_transport_ptr_t ptr, const void *data, size_t len) noexcept
{
  auto *reply = static_cast<CookieReply *>(ptr);
  GOutputVector vector{data, len};
  GOutputMessage message{reply->to, &vector, 1, 0, nullptr, 0};
  // Best effort: a lost HelloVerifyRequest is retransmitted by the client.
  g_datagram_based_send_messages(reply->base, &message, 1, 0, 0, nullptr, nullptr);
  return static_cast<ssize_t>(len);
}

}  // namespace

DatagramTransport::DatagramTransport(GDatagramBased *base, bool server, unsigned connection_id)
    : base_(base), server_(server), recv_buf_(kMaxDatagram), connection_id_(connection_id)
{
  if (G_IS_SOCKET(base)) {
    socket_ = G_SOCKET(base);
    socket_fd_ = g_socket_get_fd(socket_);
    // Segmentation offload is UDP's: another datagram socket (AF_UNIX)
    // would ignore the control message and send one datagram.
    GSocketFamily family = g_socket_get_family(socket_);
    GSocketProtocol protocol = g_socket_get_protocol(socket_);
    bool udp = (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6) &&
               (protocol == G_SOCKET_PROTOCOL_UDP || protocol == G_SOCKET_PROTOCOL_DEFAULT);
    if (!udp)
      send_batch_.disable_segmentation();
  }
}

DatagramTransport::~DatagramTransport()
{
  g_clear_object(&peer_);
  if (io_error_)
    g_error_free(io_error_);
}

void DatagramTransport::attach(gnutls_session_t session)
{
  session_ = session;
  gnutls_transport_set_ptr(session, this);
  gnutls_transport_set_pull_function(session, pull_cb);
  gnutls_transport_set_push_function(session, push_cb);
  gnutls_transport_set_pull_timeout_function(session, pull_timeout_cb);
  gnutls_dtls_set_mtu(session, mtu_ ? mtu_ : path_mtu());
}

unsigned DatagramTransport::path_mtu() const
{
  constexpr unsigned kDefault = 1400;
  if (!socket_ || !g_socket_is_connected(socket_))
    return kDefault;
  int fd = g_socket_get_fd(socket_);
  int mtu = 0;
  socklen_t len = sizeof mtu;
  bool v6 = g_socket_get_family(socket_) == G_SOCKET_FAMILY_IPV6;
  int r = v6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len)
             : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
  unsigned headers = v6 ? 48 : 28;  // IP + UDP
  if (r != 0 || mtu <= static_cast<int>(headers) + 64)
    return kDefault;
  return std::min<unsigned>(static_cast<unsigned>(mtu) - headers, 16384 + 256);
}

void DatagramTransport::set_io_error(GError *error)
{
  std::lock_guard lock(error_mutex_);
  if (io_error_) {
    g_error_free(error);
  } else {
    io_error_ = error;
    has_error_.store(true, std::memory_order_release);
  }
}

GError *DatagramTransport::take_io_error()
{
  if (!has_error_.load(std::memory_order_acquire))
    return nullptr;
  std::lock_guard lock(error_mutex_);
  has_error_.store(false, std::memory_order_relaxed);
  return std::exchange(io_error_, nullptr);
}

bool DatagramTransport::has_io_error()
{
  return has_error_.load(std::memory_order_acquire);
}

bool DatagramTransport::from_peer(GSocketAddress *from)
{
  if (!peer_ || !from)
    return true;
  return native_address(peer_) == native_address(from);
}

// The error for a failed recv()/send() on the socket's descriptor.
static GError *socket_error(int code, bool sending)
{
  return g_error_new(G_IO_ERROR, g_io_error_from_errno(code),
                     sending ? _("Error sending a datagram: %s") : _("Error receiving a datagram: %s"),
                     g_strerror(code));
}

gssize DatagramTransport::receive(guint8 *into, size_t size, GSocketAddress **out_from)
{
  // A connected socket is read directly: every datagram comes from its peer,
  // and GSocket's message call would cost a GError for each "nothing yet".
  if (int fd = connected_fd(); fd >= 0) {
    if (out_from)
      *out_from = nullptr;
    for (;;) {
      ssize_t n = recv(fd, into, size, MSG_DONTWAIT);
      if (n >= 0)
        return n;
      int code = errno;
      if (code == EINTR)
        continue;
      if (code == EAGAIN || code == EWOULDBLOCK || code == ECONNREFUSED)
        return 0;  // nothing yet, or an ICMP error for an earlier datagram (see below)
      set_io_error(socket_error(code, false));
      return -1;
    }
  }
  for (int dropped = 0; dropped < kMaxDroppedPerCall; dropped++) {
    GInputVector vector{into, size};
    GSocketAddress *from = nullptr;
    // The sender's address: from an unconnected socket, and from any base
    // that is not a socket (an application's demultiplexer reports it, and
    // a server's cookies must be bound to it).
    bool want_address = !socket_ || !g_socket_is_connected(socket_);
    GInputMessage message{want_address ? &from : nullptr, &vector, 1, 0, 0, nullptr, nullptr};
    GError *error = nullptr;
    gint n = g_datagram_based_receive_messages(base_, &message, 1, 0, 0, nullptr, &error);
    if (n < 0) {
      if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
          g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
        // Nothing yet (or an ICMP error for an earlier datagram: the peer may
        // not be listening yet, and the handshake retransmits).
        g_error_free(error);
        return 0;
      }
      set_io_error(error);
      return -1;
    }
    if (n == 0) {
      g_clear_object(&from);
      return 0;
    }
    if (!from_peer(from)) {
      g_clear_object(&from);
      continue;  // another peer's datagram on a shared socket
    }
    if (out_from)
      *out_from = from;
    else
      g_clear_object(&from);
    return static_cast<gssize>(message.bytes_received);
  }
  return 0;
}

namespace {

constexpr size_t kRecordHeader = 13;  // type, version, epoch, sequence number, length
constexpr guint8 kChangeCipherSpec = 20;

unsigned record_epoch(const guint8 *datagram) { return (datagram[3] << 8) | datagram[4]; }

// Whether `datagram` is one ChangeCipherSpec record and nothing else.
bool is_lone_change_cipher_spec(const guint8 *datagram, size_t size)
{
  if (size <= kRecordHeader || datagram[0] != kChangeCipherSpec)
    return false;
  size_t length = (static_cast<size_t>(datagram[11]) << 8) | datagram[12];
  return kRecordHeader + length == size;
}

}  // namespace

ssize_t DatagramTransport::serve(std::vector<guint8> &from, void *buf, size_t len)
{
  size_t n = std::min(len, from.size());
  memcpy(buf, from.data(), n);
  from.clear();
  return static_cast<ssize_t>(n);
}

ssize_t DatagramTransport::pull_batch(int fd, void *buf, size_t len)
{
  int code = EAGAIN;
  if (ring_may_fill_) {
    unsigned wanted = std::min(receive_batch_, ReceiveRing::kMaxBatch);
    int received = ring_.fill(fd, wanted, &code);
    if (received < 0) {
      set_io_error(socket_error(code, false));
      code = EIO;
    } else if (received > 0) {
      // A short fill drained the socket: another would find nothing.
      if (static_cast<unsigned>(received) < wanted)
        ring_may_fill_ = false;
      return static_cast<ssize_t>(ring_.take(buf, len));
    }
  }
  gnutls_transport_set_errno(session_, code);
  errno = code;
  return -1;
}

ssize_t DatagramTransport::pull_cb(gnutls_transport_ptr_t self, void *buf, size_t len) noexcept
{
  auto *t = static_cast<DatagramTransport *>(self);
  if (!t->ring_.empty())
    return static_cast<ssize_t>(t->ring_.take(buf, len));
  if (!t->stash_.empty())
    return serve(t->stash_, buf, len);
  if (t->receive_batch_ > 1 && !t->handshaking_ && t->held_ccs_.empty()) {
    if (int fd = t->connected_fd(); fd >= 0)
      return t->pull_batch(fd, buf, len);
  }
  gssize n = 0;
  for (int held = 0; held < kMaxDroppedPerCall; held++) {
    GSocketAddress *from = nullptr;
    // Outside a handshake nothing is held back (below): the datagram goes
    // straight into GnuTLS's buffer.
    bool direct = !t->handshaking_ && t->held_ccs_.empty();
    guint8 *into = direct ? static_cast<guint8 *>(buf) : t->recv_buf_.data();
    n = t->receive(into, direct ? len : t->recv_buf_.size(), t->peer_ || !t->server_ ? nullptr : &from);
    if (from) {
      // An unconnected server socket talks to the first peer that reached it.
      if (!t->peer_ && t->socket_ && !g_socket_is_connected(t->socket_))
        t->peer_ = G_SOCKET_ADDRESS(g_object_ref(from));
      g_object_unref(from);
    }
    if (n <= 0)
      break;
    if (direct)
      return n;
    const guint8 *datagram = into;
    // GnuTLS (3.7, recv_handshake_final) retransmits on its timer only
    // until it has the peer's ChangeCipherSpec: if the Finished behind it is
    // lost, a nonblocking handshake then waits for a Finished that the peer
    // never sends again (the peer resends its last flight only when ours
    // comes again). So a lone ChangeCipherSpec is held back during a
    // handshake until a record of a later epoch (the Finished) arrives, and
    // GnuTLS keeps retransmitting until then.
    if (t->handshaking_ && is_lone_change_cipher_spec(datagram, static_cast<size_t>(n))) {
      t->held_ccs_.assign(datagram, datagram + n);
      n = 0;
      continue;
    }
    if (!t->held_ccs_.empty() && static_cast<size_t>(n) > kRecordHeader &&
        record_epoch(datagram) > record_epoch(t->held_ccs_.data())) {
      t->stash_.assign(datagram, datagram + n);
      return serve(t->held_ccs_, buf, len);
    }
    size_t take = std::min(len, static_cast<size_t>(n));
    memcpy(buf, datagram, take);
    return static_cast<ssize_t>(take);
  }
  int code = n == 0 ? EAGAIN : EIO;
  gnutls_transport_set_errno(t->session_, code);
  errno = code;
  return -1;
}

int DatagramTransport::pull_timeout_cb(gnutls_transport_ptr_t self, unsigned) noexcept
{
  auto *t = static_cast<DatagramTransport *>(self);
  if (!t->stash_.empty() || !t->ring_.empty())
    return 1;
  return g_datagram_based_condition_check(t->base_, G_IO_IN) & G_IO_IN ? 1 : 0;
}

bool DatagramTransport::send_now(const guint8 *data, size_t len, GSocketAddress *to, GError **error)
{
  if (int fd = to ? -1 : connected_fd(); fd >= 0) {
    for (;;) {
      if (send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        return true;
      int code = errno;
      if (code != EINTR) {
        g_propagate_error(error, socket_error(code, true));
        return false;
      }
    }
  }
  GOutputVector vector{data, len};
  GOutputMessage message{to, &vector, 1, 0, nullptr, 0};
  gint n = g_datagram_based_send_messages(base_, &message, 1, 0, 0, nullptr, error);
  return n == 1;
}

ssize_t DatagramTransport::push_cb(gnutls_transport_ptr_t self, const void *buf, size_t len) noexcept
{
  auto *t = static_cast<DatagramTransport *>(self);
  const auto *bytes = static_cast<const guint8 *>(buf);
  // A send batch collects the application data its own thread's records
  // carry (handshake flights of an implicit handshake, and a reader's alert
  // on another thread, go out as usual).
  constexpr guint8 kApplicationData = 23;
  if (t->collecting_.load(std::memory_order_relaxed) && len > 0 && bytes[0] == kApplicationData &&
      t->collecting_thread_.load(std::memory_order_relaxed) == g_thread_self()) {
    t->send_batch_.add(bytes, len);
    return static_cast<ssize_t>(len);
  }
  // Application data (content type 23) is no part of a flight: with nothing
  // queued ahead of it, the usual case once per record, it goes out without
  // the lock. Everything else is accounted for under it.
  std::unique_lock lock(t->out_mutex_, std::defer_lock);
  if (len == 0 || bytes[0] != kApplicationData) {
    t->sent_flight_ = true;
    lock.lock();
    t->note_push(bytes, len);
  }
  if (t->queued_count_.load(std::memory_order_acquire) == 0) {
    GError *error = nullptr;
    if (t->send_now(bytes, len, t->peer_, &error))
      return static_cast<ssize_t>(len);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
      g_error_free(error);  // the datagram is lost, as UDP may lose it
      return static_cast<ssize_t>(len);
    }
    if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      t->set_io_error(error);
      gnutls_transport_set_errno(t->session_, EIO);
      return -1;
    }
    g_error_free(error);
  }
  if (!lock.owns_lock())
    lock.lock();
  t->queued_.emplace_back(bytes, bytes + len);
  t->queued_count_.store(t->queued_.size(), std::memory_order_release);
  return static_cast<ssize_t>(len);
}

void DatagramTransport::note_push(const guint8 *data, size_t len)
{
  pushed_in_step_ = true;
  to_account_.store(true, std::memory_order_release);
  // The record's content type (RFC 6347 §4.1): 20 ChangeCipherSpec, 22
  // handshake. Alerts and application data are no flight.
  bool flight_record = len > 0 && (data[0] == 20 || data[0] == 22);
  if (!flight_record || flight_queued_)
    return;
  if (resent_datagrams_ == 0)
    resending_thread_ = g_thread_self();
  resent_datagrams_++;
}

void DatagramTransport::handshake_message_queued()
{
  std::lock_guard lock(out_mutex_);
  flight_queued_ = true;
}

void DatagramTransport::after_step()
{
  // Application data is not accounted for: nothing to do once per record.
  if (!to_account_.load(std::memory_order_acquire))
    return;
  unsigned resent = 0;
  {
    std::lock_guard lock(out_mutex_);
    if (pushed_in_step_)
      flight_queued_ = false;  // the new flight went out in this step
    pushed_in_step_ = false;
    // A reader and a writer may run at once: only the step that sent the
    // flight again concludes it, so a flight is counted once.
    if (resent_datagrams_ == 0 || resending_thread_ != g_thread_self()) {
      to_account_.store(resent_datagrams_ != 0, std::memory_order_release);
      return;
    }
    resent = std::exchange(resent_datagrams_, 0);
    resending_thread_ = nullptr;
    to_account_.store(false, std::memory_order_release);
  }
  unsigned count = retransmissions_.fetch_add(1, std::memory_order_relaxed) + 1;
  g_debug("Connection %u: retransmitted a handshake flight (%u datagram%s, retransmission %u); "
          "next retransmission in %u ms",
          connection_id_, resent, resent == 1 ? "" : "s", count,
          session_ ? gnutls_dtls_get_timeout(session_) : 0);
}

bool DatagramTransport::batches_apply() const
{
  return connected_fd() >= 0 && !peer_ && g_socket_get_timeout(socket_) == 0;
}

void DatagramTransport::begin_send_batch()
{
  send_batch_.clear();
  collecting_thread_.store(g_thread_self(), std::memory_order_relaxed);
  collecting_.store(true, std::memory_order_relaxed);
}

FlushResult DatagramTransport::send_collected(size_t first, size_t *out_sent, GError **error)
{
  int code = 0;
  *out_sent += send_batch_.send(socket_fd_, first, &code);
  if (code == 0)
    return FlushResult::Flushed;
  if (code == EAGAIN || code == EWOULDBLOCK)
    return FlushResult::WouldBlock;
  g_propagate_error(error, socket_error(code, true));
  return FlushResult::Failed;
}

bool DatagramTransport::has_pending_output()
{
  return queued_count_.load(std::memory_order_acquire) != 0;
}

FlushResult DatagramTransport::flush(GError **error)
{
  // Nothing queued is the usual case: no lock for it, once per record.
  if (queued_count_.load(std::memory_order_acquire) == 0)
    return FlushResult::Flushed;
  std::lock_guard lock(out_mutex_);
  while (!queued_.empty()) {
    GError *local = nullptr;
    const std::vector<guint8> &d = queued_.front();
    if (!send_now(d.data(), d.size(), peer_, &local)) {
      if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(local);
        return FlushResult::WouldBlock;
      }
      queued_.clear();
      queued_count_.store(0, std::memory_order_release);
      g_propagate_error(error, local);
      return FlushResult::Failed;
    }
    queued_.pop_front();
    queued_count_.store(queued_.size(), std::memory_order_release);
  }
  return FlushResult::Flushed;
}

bool DatagramTransport::base_ready(Wait what)
{
  GIOCondition cond = what == Wait::Readable ? G_IO_IN : G_IO_OUT;
  return (g_datagram_based_condition_check(base_, cond) & cond) != 0;
}

bool DatagramTransport::wait(Wait what, gint64 timeout_us, GCancellable *cancellable, GError **error)
{
  GIOCondition cond = what == Wait::Readable ? G_IO_IN : G_IO_OUT;
  // A socket without a GIO timeout is polled directly (see
  // CancellableWakeup); a closed one gets GIO's own error.
  if (socket_ && g_socket_get_timeout(socket_) == 0 && !g_socket_is_closed(socket_))
    return wakeup_.wait_fd(socket_fd_, cond, timeout_us, cancellable, error);
  wakeup_.hold(cancellable);
  return g_datagram_based_condition_wait(base_, cond, timeout_us, cancellable, error);
}

gint64 DatagramTransport::retransmit_timeout_us()
{
  // Nothing to retransmit before our first flight went out: a server
  // waiting for its first ClientHello waits for it or its deadline (GnuTLS
  // reports its timer as 0 then, which would be a busy loop).
  if (!handshaking_ || !session_)
    return -1;
  if (!sent_flight_) {
    // Before any flight of ours (a server waiting for a ClientHello with a
    // valid cookie) only the handshake's deadline calls the step again.
    return deadline_us_ >= 0 ? std::max<gint64>(deadline_us_ - g_get_monotonic_time(), 0) : -1;
  }
  // GnuTLS can report 0 ("expired") again right after it was called to
  // retransmit (seen with a reordered last flight): a floor keeps such a
  // state from becoming a busy loop until the handshake times out.
  constexpr gint64 kFloorUs = 20 * 1000;
  gint64 remaining = static_cast<gint64>(gnutls_dtls_get_timeout(session_)) * 1000;
  remaining = std::max(remaining, kFloorUs);
  // GnuTLS checks its total timeout only when a retransmission is due, up
  // to one (doubling) timer period late: wake at the deadline instead, when
  // the handshake step fails with a timeout.
  if (deadline_us_ >= 0)
    remaining = std::min(remaining, std::max<gint64>(deadline_us_ - g_get_monotonic_time(), 0));
  return remaining;
}

int DatagramTransport::poll_fd()
{
  if (!socket_ || g_socket_get_timeout(socket_) != 0)
    return -1;
  return g_socket_get_fd(socket_);
}

GSource *DatagramTransport::create_source(Wait what, GCancellable *cancellable)
{
  GIOCondition cond = what == Wait::Readable ? G_IO_IN : G_IO_OUT;
  GSource *source = plain_source_wrapping(g_datagram_based_create_source(base_, cond, cancellable));
  gint64 retransmit_us = what == Wait::Readable ? retransmit_timeout_us() : -1;
  if (retransmit_us >= 0)
    g_source_set_ready_time(source, g_get_monotonic_time() + retransmit_us);
  return source;
}

void DatagramTransport::set_cookie_secret(GBytes *secret)
{
  own_cookie_secret_ = secret != nullptr;
  cookie_secret_.clear();
  if (secret) {
    gsize size = 0;
    auto *data = static_cast<const guint8 *>(g_bytes_get_data(secret, &size));
    cookie_secret_.assign(data, data + size);
  }
}

StepResult DatagramTransport::before_server_handshake(GError **error)
{
  if (!cookies_)
    return StepResult::Done;
  if (own_cookie_secret_ && cookie_secret_.size() < kMinCookieSecret) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("cookie-secret has %u bytes; it must have at least %u"),
                static_cast<unsigned>(cookie_secret_.size()), static_cast<unsigned>(kMinCookieSecret));
    return StepResult::Failed;
  }
  gnutls_datum_t own_key{cookie_secret_.data(), static_cast<unsigned>(cookie_secret_.size())};
  gnutls_datum_t *key = own_cookie_secret_ ? &own_key : cookie_key();
  bool connected = socket_ && g_socket_is_connected(socket_);
  for (int i = 0; i < kMaxDroppedPerCall; i++) {
    GSocketAddress *from = nullptr;
    gssize n = receive(recv_buf_.data(), recv_buf_.size(), &from);
    if (n <= 0) {
      // Nothing yet, or an I/O error the driver takes from take_io_error().
      g_clear_object(&from);
      return StepResult::Again;
    }
    GSocketAddress *client = from;
    if (!client && connected)
      client = g_socket_get_remote_address(socket_, nullptr);
    else if (client)
      g_object_ref(client);
    std::vector<guint8> client_id = native_address(client);
    gnutls_dtls_prestate_st prestate;
    memset(&prestate, 0, sizeof prestate);
    int ret = gnutls_dtls_cookie_verify(key, client_id.data(), client_id.size(),
                                        recv_buf_.data(), static_cast<size_t>(n), &prestate);
    if (ret < 0) {
      // No valid cookie: answer with a HelloVerifyRequest and keep no state.
      // Only an unconnected socket needs the address; any other base knows
      // where its datagrams go.
      CookieReply reply{base_, socket_ && !connected ? client : nullptr};
      gnutls_dtls_cookie_send(key, client_id.data(), client_id.size(), &prestate,
                              &reply, push_cookie_reply);
      g_debug("Connection %u: sent a HelloVerifyRequest%s (a ClientHello without a valid cookie)",
              connection_id_, address_clause("to", client).c_str());
      if (client)
        g_object_unref(client);
      g_clear_object(&from);
      continue;
    }
    gnutls_dtls_prestate_set(session_, &prestate);
    stash_.assign(recv_buf_.data(), recv_buf_.data() + n);
    g_debug("Connection %u: accepted a ClientHello with a valid cookie%s", connection_id_,
            address_clause("from", client).c_str());
    if (socket_ && !connected && !peer_ && client)
      peer_ = G_SOCKET_ADDRESS(g_object_ref(client));
    if (client)
      g_object_unref(client);
    g_clear_object(&from);
    return StepResult::Done;
  }
  return StepResult::Again;
}

}  // namespace gtg
