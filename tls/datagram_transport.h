// DatagramTransport: the bridge between GnuTLS's push/pull and a
// GDatagramBased (a UDP GSocket, or an application's demultiplexer).
//
// One datagram in is one pull; one push is one datagram out. Nothing blocks
// GnuTLS: a datagram the base cannot take now is queued and the driver
// flushes it when the base is writable. While a handshake runs, waits for
// input are bounded by GnuTLS's retransmission timer (RFC 6347 §4.2.4), so
// the driver calls GnuTLS again to retransmit.
// A server can run the stateless cookie exchange (RFC 6347 §4.2.1) before its
// session sees the ClientHello: a ClientHello without a valid cookie gets a
// HelloVerifyRequest and costs no state. On an unconnected socket the
// transport talks to the address of the first verified (or first) peer and
// ignores datagrams from others.
// It counts retransmissions: a step in which GnuTLS pushes handshake or
// ChangeCipherSpec records while it has queued no new handshake message
// since its last flight went out is that flight sent again, counted once
// however many datagrams it takes. GnuTLS (3.7, _dtls_transmit) sends a
// flight again only once its retransmission timer has expired; the first
// sending of a flight always follows the queueing of its messages, so it is
// never counted. Cookie exchanges, retransmissions and their new timer are
// logged with the connection's number.
// Batches: on a plain connected socket a send_messages or receive_messages
// call for several messages bypasses the base (see SendBatch, ReceiveRing):
// while a send batch is open, the records GnuTLS pushes on the batching
// thread are collected and then sent with one sendmmsg() (UDP segmentation
// offload where records have equal size); while a receive batch is open,
// a pull with nothing received ahead reads up to the batch's size with one
// recvmmsg() and serves GnuTLS one datagram per pull. A single-message call
// takes neither path.
// Threads: as StreamTransport (input has one user; output is locked).
#pragma once

#include "cancellable_wakeup.h"
#include "receive_ring.h"
#include "send_batch.h"
#include "transport.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

namespace gtg {

class DatagramTransport final : public Transport {
public:
  // `base` must outlive the transport (the connection keeps it);
  // `connection_id` names the connection in debug logs.
  DatagramTransport(GDatagramBased *base, bool server, unsigned connection_id);
  ~DatagramTransport() override;

  void attach(gnutls_session_t session) override;
  bool has_pending_output() override;
  FlushResult flush(GError **error) override;
  bool has_buffered_input() override { return !stash_.empty() || !ring_.empty(); }
  bool base_ready(Wait what) override;
  bool wait(Wait what, gint64 timeout_us, GCancellable *cancellable, GError **error) override;
  GSource *create_source(Wait what, GCancellable *cancellable) override;
  GError *take_io_error() override;
  bool has_io_error() override;
  bool saw_eof() override { return false; }
  void set_input_mode(bool, GCancellable *) override {}
  gint64 retransmit_timeout_us() override;
  StepResult before_server_handshake(GError **error) override;
  int poll_fd() override;

  // Whether a handshake runs (input waits are then bounded by its timer).
  void set_handshaking(bool running) override
  {
    handshaking_ = running;
    held_ccs_.clear();
  }
  void handshake_message_queued() override;
  void after_step() override;
  unsigned retransmissions() const override { return retransmissions_.load(std::memory_order_relaxed); }
  void set_handshake_deadline(gint64 deadline_us) override { deadline_us_ = deadline_us; }
  // Turns the server cookie exchange on or off (on by default).
  void set_cookies(bool enabled) { cookies_ = enabled; }
  // The secret the server's cookies are made with (`cookie-secret`):
  // nullptr, the per-process random one. One shorter than
  // kMinCookieSecret bytes fails the server's handshake.
  void set_cookie_secret(GBytes *secret);
  static constexpr size_t kMinCookieSecret = 32;
  // The MTU the next session gets; 0: path_mtu().
  void set_mtu(unsigned mtu) { mtu_ = mtu; }
  // The MTU for the session: the socket's path MTU minus IP and UDP headers
  // when it is connected, else 1400.
  unsigned path_mtu() const;

  // ----- Batches -----

  // Whether a call for several messages may batch: the base is a connected
  // GSocket without a GIO timeout.
  bool batches_apply() const;
  // From now on, application data records GnuTLS pushes on this thread are
  // collected instead of sent (until stop_collecting()).
  void begin_send_batch();
  // How many datagrams were collected since begin_send_batch().
  size_t collected() const { return send_batch_.count(); }
  // Pushes go out again as they come; the collected datagrams stay.
  void stop_collecting() { collecting_.store(false, std::memory_order_relaxed); }
  // Sends the collected datagrams from `first` on without blocking and adds
  // how many went to *out_sent: Flushed when all did, WouldBlock when the
  // socket is full, Failed with `error` set on any other failure.
  FlushResult send_collected(size_t first, size_t *out_sent, GError **error);
  // Forgets the collected datagrams (those not sent are lost, as UDP may
  // lose them).
  void end_send_batch() { send_batch_.clear(); }
  // A receive_messages call for `wanted` messages starts: pulls receive
  // ahead up to that many datagrams with one system call.
  void begin_receive_batch(unsigned wanted)
  {
    receive_batch_ = wanted;
    ring_may_fill_ = true;
  }
  // The call ends; datagrams received ahead are served to later reads.
  void end_receive_batch() { receive_batch_ = 0; }

private:
  static ssize_t pull_cb(gnutls_transport_ptr_t self, void *buf, size_t len) noexcept;
  static ssize_t push_cb(gnutls_transport_ptr_t self, const void *buf, size_t len) noexcept;
  static int pull_timeout_cb(gnutls_transport_ptr_t self, unsigned ms) noexcept;
  // Copies the datagram in `from` to GnuTLS's buffer and empties `from`.
  static ssize_t serve(std::vector<guint8> &from, void *buf, size_t len);

  // Receives one datagram from the peer without blocking into `into` (at
  // most `size` bytes): its size, 0 if none is waiting, -1 with io error set.
  gssize receive(guint8 *into, size_t size, GSocketAddress **out_from);
  bool send_now(const guint8 *data, size_t len, GSocketAddress *to, GError **error);
  // socket_'s descriptor while it is connected (and so not closed), else -1:
  // one GObject type check, where g_socket_get_fd() would add a second.
  int connected_fd() const { return socket_ && g_socket_is_connected(socket_) ? socket_fd_ : -1; }
  void set_io_error(GError *error);
  bool from_peer(GSocketAddress *from);
  // A pull during a receive batch, with nothing received ahead: refills
  // the ring (at most once after it came back short).
  ssize_t pull_batch(int fd, void *buf, size_t len);
  // Accounts for one datagram GnuTLS pushes (retransmission counting).
  // Called with out_mutex_ held.
  void note_push(const guint8 *data, size_t len);

  gnutls_session_t session_ = nullptr;
  GDatagramBased *base_;        // (unowned)
  GSocket *socket_ = nullptr;   // (unowned, nullable) when the base is a GSocket
  int socket_fd_ = -1;          // socket_'s descriptor, fixed for its life
  bool server_;
  bool cookies_ = true;
  bool own_cookie_secret_ = false;
  std::vector<guint8> cookie_secret_;  // when own_cookie_secret_
  bool handshaking_ = false;
  gint64 deadline_us_ = -1;  // of the running handshake, monotonic
  unsigned mtu_ = 0;
  bool sent_flight_ = false;  // GnuTLS has pushed at least one datagram
  GSocketAddress *peer_ = nullptr;  // (owned, nullable) on an unconnected socket

  std::vector<guint8> recv_buf_;
  std::vector<guint8> stash_;  // a datagram received before GnuTLS asked for it
  // A lone ChangeCipherSpec held back until the record behind it arrives
  // (see pull_cb).
  std::vector<guint8> held_ccs_;

  std::mutex out_mutex_;
  std::deque<std::vector<guint8>> queued_;  // guarded by out_mutex_
  std::atomic<size_t> queued_count_{0};     // queued_.size(), readable without the lock
  // Retransmission accounting, guarded by out_mutex_.
  bool flight_queued_ = false;          // GnuTLS queued messages not pushed yet
  bool pushed_in_step_ = false;         // GnuTLS pushed in the current step
  unsigned resent_datagrams_ = 0;       // of a flight sent again in the current step
  GThread *resending_thread_ = nullptr;  // (unowned) the thread whose step sends it again
  std::atomic<bool> to_account_{false};   // note_push ran since after_step last cleared up
  std::atomic<unsigned> retransmissions_{0};

  unsigned connection_id_;

  std::mutex error_mutex_;
  GError *io_error_ = nullptr;  // (owned) guarded by error_mutex_
  std::atomic<bool> has_error_{false};  // io_error_ != nullptr

  CancellableWakeup wakeup_;

  // Send batch (one writer at a time: the write gate).
  std::atomic<bool> collecting_{false};
  std::atomic<GThread *> collecting_thread_{nullptr};  // (unowned) whose pushes are collected
  SendBatch send_batch_;
  // Receive batch (input side).
  ReceiveRing ring_;
  unsigned receive_batch_ = 0;  // messages the running call wants; 0: no batch
  bool ring_may_fill_ = false;  // the last fill of this call was not short
};

}  // namespace gtg
