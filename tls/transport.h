// Transport: what the driver needs from the thing under a GnuTLS session.
//
// Two implementations: StreamTransport (TLS over a GIOStream) and
// DatagramTransport (DTLS over a GDatagramBased). Each installs itself as the
// session's push/pull functions, never lets GnuTLS block, and tells the
// driver how to wait for the condition GnuTLS needs. Called on whichever
// thread runs the operation; the output buffer is locked, the input side has
// one user at a time (the operation gate guarantees it).
#pragma once

#include "fd_waiter.h"
#include "owners.h"

#include <gio/gio.h>

#include <memory>
#include <mutex>

namespace gtg {

// What an operation waits for before GnuTLS can make progress.
enum class Wait { Readable, Writable };

// What one call into GnuTLS (a driver step) came to.
enum class StepResult {
  Done,    // the GnuTLS call completed
  Again,   // GnuTLS needs the transport; call the step again after waiting
  Failed,  // the operation failed; the error is set
  Suspended,  // the step waits for application code (HandshakeFiber); async runs only
};

// Outcome of draining buffered output without blocking.
enum class FlushResult { Flushed, WouldBlock, Failed };

class Transport {
public:
  virtual ~Transport() = default;

  // Installs push/pull/pull-timeout functions on `session`.
  virtual void attach(gnutls_session_t session) = 0;

  // True when bytes pushed by GnuTLS still wait to reach the base transport.
  virtual bool has_pending_output() = 0;
  // Writes buffered output without blocking; Failed sets `error`.
  virtual FlushResult flush(GError **error) = 0;
  // True when input is already buffered here (GnuTLS can progress without waiting).
  virtual bool has_buffered_input() = 0;

  // Whether the base transport is readable or writable right now.
  virtual bool base_ready(Wait what) = 0;

  // Blocks until `what` is possible, `cancellable` fires, or `timeout_us`
  // (-1: the transport's own timeout, if any) passes. False with an error
  // (G_IO_ERROR_CANCELLED, G_IO_ERROR_TIMED_OUT, ...) otherwise.
  virtual bool wait(Wait what, gint64 timeout_us, GCancellable *cancellable, GError **error) = 0;
  // A source (not attached) that dispatches when `what` may be possible or
  // `cancellable` fires. Its callback is a GSourceFunc.
  virtual GSource *create_source(Wait what, GCancellable *cancellable) = 0;

  // The error a pull or push function hit on the base transport, taken by
  // the caller (nullptr if none). GnuTLS only sees "I/O error"; this is the
  // real cause (connection reset, timed out, cancelled, ...).
  virtual GError *take_io_error() = 0;
  // Whether take_io_error would return an error.
  virtual bool has_io_error() = 0;
  // Set by pull when the base transport reported end of stream.
  virtual bool saw_eof() = 0;

  // How long GnuTLS may wait for input before it must be called again to
  // retransmit (DTLS handshakes); -1 when it never needs to.
  virtual gint64 retransmit_timeout_us() { return -1; }

  // Told when a handshake starts and ends.
  virtual void set_handshaking(bool) {}
  // The monotonic time (µs) by which a DTLS handshake must end: waits for
  // retransmission never reach past it, so the handshake fails on time.
  virtual void set_handshake_deadline(gint64) {}

  // Told when GnuTLS queues a handshake message of ours (a handshake hook):
  // what it pushes next is the first sending of a new flight.
  virtual void handshake_message_queued() {}
  // Told by the driver after each step (one call into GnuTLS), so that what
  // GnuTLS pushed in that call can be looked at as a whole.
  virtual void after_step() {}
  // How many times a handshake flight was sent again because GnuTLS's
  // retransmission timer expired (DTLS); 0 for streams. Any thread.
  virtual unsigned retransmissions() const { return 0; }

  // Work a server does before its first gnutls_handshake call (the DTLS
  // cookie exchange); Done when the handshake may start.
  virtual StepResult before_server_handshake(GError **) { return StepResult::Done; }

  // The cancellable and blocking mode that pull uses for the operation that
  // is about to call into GnuTLS on the input side.
  virtual void set_input_mode(bool blocking, GCancellable *cancellable) = 0;

  // The descriptor asynchronous waits may poll directly (see FdWaiter), or
  // -1 when they must go through create_source(): the base is not a plain
  // socket, or the socket has a timeout its own sources enforce.
  virtual int poll_fd() { return -1; }

  // The persistent waiter for `what`, made on first use; null without a
  // poll_fd().
  FdWaiter *waiter(Wait what);

private:
  std::mutex waiters_mutex_;
  std::unique_ptr<FdWaiter> waiters_[2];  // guarded by waiters_mutex_
};

// The closure_callback of sources whose callback is a plain GSourceFunc.
gboolean invoke_plain_closure(gpointer data) noexcept;

// A source with a plain GSourceFunc callback that dispatches only when its
// ready time is reached or a child source is ready.
GSource *plain_source_new(const char *name);

// A source whose callback is a plain GSourceFunc, dispatched when `child`
// (whatever its own callback type) is ready. Takes over the reference to `child`.
GSource *plain_source_wrapping(GSource *child);

}  // namespace gtg
