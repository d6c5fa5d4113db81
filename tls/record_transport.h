// StreamTransport: the bridge between GnuTLS's push/pull and a GIOStream.
//
// Buffering policy (this is what makes the engine cheap):
// - Input is read ahead: pull asks the base stream for up to kReadAhead bytes
//   at once and serves GnuTLS from that buffer, so a small record costs one
//   receive call, and "readable" can be answered from the buffer without a
//   failed receive plus poll. The buffer exists only while it holds unread
//   bytes, so an idle connection costs no read-ahead memory. While the peer
//   keeps the stream full (a fill takes all the buffer holds), the buffer
//   grows to kReadAheadBulk, so a bulk transfer costs one receive call per
//   several records rather than one per record.
// - Output never blocks GnuTLS: push writes what the base stream takes without
//   blocking and keeps the rest; the driver flushes it (waiting for
//   writability) before an operation completes. At most one record plus any
//   handshake flight is buffered, because each GnuTLS call is followed by a
//   flush before the next.
// - A base stream that is not pollable is read and written blocking, with the
//   operation's cancellable; such streams support sync operations only.
// Threads: input (pull) belongs to the operation holding the input side;
// output is guarded by a mutex because a reader may push (alerts, key updates)
// while a writer flushes.
#pragma once

#include "cancellable_wakeup.h"
#include "transport.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace gtg {

class StreamTransport final : public Transport {
public:
  // `base` must outlive the transport (the connection keeps it).
  explicit StreamTransport(GIOStream *base);

  void attach(gnutls_session_t session) override;
  bool has_pending_output() override;
  FlushResult flush(GError **error) override;
  bool has_buffered_input() override { return read_begin_ < read_end_; }
  bool base_ready(Wait what) override;
  bool wait(Wait what, gint64 timeout_us, GCancellable *cancellable, GError **error) override;
  GSource *create_source(Wait what, GCancellable *cancellable) override;
  GError *take_io_error() override;
  bool has_io_error() override;
  bool saw_eof() override { return eof_; }
  void set_input_mode(bool blocking, GCancellable *cancellable) override;
  int poll_fd() override;

  // True when both base streams can be polled (async operations need it).
  bool pollable() const { return pollable_in_ && pollable_out_; }

private:
  static constexpr size_t kReadAhead = 16 * 1024 + 512;  // one full record and then some
  static constexpr size_t kReadAheadBulk = 64 * 1024;
  static constexpr int kMaxVectors = 16;  // per write; more go one by one

  static ssize_t pull_cb(gnutls_transport_ptr_t self, void *buf, size_t len) noexcept;
  static ssize_t push_cb(gnutls_transport_ptr_t self, const void *buf, size_t len) noexcept;
  static ssize_t vec_push_cb(gnutls_transport_ptr_t self, const giovec_t *iov, int iovcnt) noexcept;
  static int pull_timeout_cb(gnutls_transport_ptr_t self, unsigned ms) noexcept;

  ssize_t pull(void *buf, size_t len);
  ssize_t push(const void *buf, size_t len);
  ssize_t vec_push(const giovec_t *iov, int iovcnt);
  // Reads from the base into the read-ahead buffer; >0 bytes, 0 EOF, -1 with
  // errno. `wanted` is what GnuTLS asked for: a base that is not pollable is
  // read blocking, and only for that much, since some such streams (a
  // GBufferedInputStream) block for the whole size asked even when they
  // hold part of it.
  ssize_t fill(size_t wanted);
  // Writes what the base takes now without blocking: the bytes taken (0 when
  // it would block), or -1 with *error set.
  gssize write_now(const giovec_t *iov, int iovcnt, GError **error);
  // The socket's descriptor when GIO's streams can be bypassed for this
  // operation (see socket_fd_) and the socket has no timeout GIO would
  // enforce and is not closed; else -1.
  int direct_fd();
  void set_io_error(GError *error);

  gnutls_session_t session_ = nullptr;
  GInputStream *in_;    // (unowned) base input
  GOutputStream *out_;  // (unowned) base output
  GSocket *socket_ = nullptr;  // (unowned, nullable) when the base is a socket connection
  // socket_'s descriptor when the base's streams are the socket's own (a
  // pollable socket connection, not a wrapper): then bytes are received and
  // sent on it directly, as GIO's socket streams would. -1 otherwise.
  int socket_fd_ = -1;
  bool pollable_in_;
  bool pollable_out_;

  std::unique_ptr<guint8[]> read_buf_;  // allocated while it holds unread input
  size_t read_capacity_ = kReadAhead;     // what the next fill allocates and asks for
  size_t read_begin_ = 0;
  size_t read_end_ = 0;
  bool eof_ = false;
  bool input_blocking_ = false;
  int input_fd_ = -1;  // direct_fd() for the current input operation
  GCancellable *input_cancellable_ = nullptr;  // (unowned) for the current input operation
  // When an async wait for input on a socket with a GIO timeout times out
  // (monotonic, -1: none). GSocket notes its timeout in its own source's
  // dispatch, which does not run when its parent (ours) ends the wait
  // first, so a fill past this time reports G_IO_ERROR_TIMED_OUT itself.
  gint64 read_deadline_us_ = -1;

  std::mutex out_mutex_;
  std::vector<guint8> write_buf_;  // guarded by out_mutex_
  std::atomic<bool> output_pending_{false};  // !write_buf_.empty(), readable without the lock

  std::mutex error_mutex_;
  GError *io_error_ = nullptr;  // (owned) guarded by error_mutex_

  CancellableWakeup wakeup_;
};

}  // namespace gtg
