#include "record_transport.h"

#include <glib/gi18n-lib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace gtg {

StreamTransport::StreamTransport(GIOStream *base)
    : in_(g_io_stream_get_input_stream(base)),
      out_(g_io_stream_get_output_stream(base)),
      pollable_in_(G_IS_POLLABLE_INPUT_STREAM(in_) &&
                   g_pollable_input_stream_can_poll(G_POLLABLE_INPUT_STREAM(in_))),
      pollable_out_(G_IS_POLLABLE_OUTPUT_STREAM(out_) &&
                    g_pollable_output_stream_can_poll(G_POLLABLE_OUTPUT_STREAM(out_)))
{
  if (G_IS_SOCKET_CONNECTION(base))
    socket_ = g_socket_connection_get_socket(G_SOCKET_CONNECTION(base));
  // A wrapper connection's streams are not the socket's: they may hold
  // buffered input the socket does not show.
  if (socket_ && pollable() && !G_IS_TCP_WRAPPER_CONNECTION(base))
    socket_fd_ = g_socket_get_fd(socket_);
}

int StreamTransport::direct_fd()
{
  if (socket_fd_ < 0 || g_socket_get_timeout(socket_) != 0 || g_socket_is_closed(socket_))
    return -1;
  return socket_fd_;
}

gssize StreamTransport::write_now(const giovec_t *iov, int iovcnt, GError **error)
{
  if (int fd = direct_fd(); fd >= 0) {
    msghdr message{};
    message.msg_iov = const_cast<iovec *>(reinterpret_cast<const iovec *>(iov));
    message.msg_iovlen = static_cast<size_t>(iovcnt);
    for (;;) {
      ssize_t n = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0)
        return n;
      int code = errno;
      if (code == EAGAIN || code == EWOULDBLOCK)
        return 0;
      if (code != EINTR) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(code), _("Error sending data: %s"),
                    g_strerror(code));
        return -1;
      }
    }
  }
  GOutputVector vectors[kMaxVectors];
  for (int i = 0; i < iovcnt; i++)
    vectors[i] = {iov[i].iov_base, iov[i].iov_len};
  gsize written = 0;
  GPollableReturn r = g_pollable_output_stream_writev_nonblocking(
      G_POLLABLE_OUTPUT_STREAM(out_), vectors, static_cast<gsize>(iovcnt), &written, nullptr, error);
  if (r == G_POLLABLE_RETURN_FAILED)
    return -1;
  return r == G_POLLABLE_RETURN_WOULD_BLOCK ? 0 : static_cast<gssize>(written);
}

void StreamTransport::attach(gnutls_session_t session)
{
  session_ = session;
  gnutls_transport_set_ptr(session, this);
  gnutls_transport_set_pull_function(session, pull_cb);
  gnutls_transport_set_push_function(session, push_cb);
  // A whole flight (or a record and its alert) leaves in one write.
  gnutls_transport_set_vec_push_function(session, vec_push_cb);
  gnutls_transport_set_pull_timeout_function(session, pull_timeout_cb);
}

ssize_t StreamTransport::pull_cb(gnutls_transport_ptr_t self, void *buf, size_t len) noexcept
{
  return static_cast<StreamTransport *>(self)->pull(buf, len);
}

ssize_t StreamTransport::push_cb(gnutls_transport_ptr_t self, const void *buf, size_t len) noexcept
{
  return static_cast<StreamTransport *>(self)->push(buf, len);
}

ssize_t StreamTransport::vec_push_cb(gnutls_transport_ptr_t self, const giovec_t *iov,
                                     int iovcnt) noexcept
{
  return static_cast<StreamTransport *>(self)->vec_push(iov, iovcnt);
}

ssize_t StreamTransport::vec_push(const giovec_t *iov, int iovcnt)
{
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  std::unique_lock lock(out_mutex_);
  if (!pollable_out_ || !write_buf_.empty() || iovcnt > kMaxVectors) {
    lock.unlock();
    for (int i = 0; i < iovcnt; i++)
      if (push(iov[i].iov_base, iov[i].iov_len) < 0)
        return -1;
    return static_cast<ssize_t>(total);
  }
  GError *error = nullptr;
  gssize written = write_now(iov, iovcnt, &error);
  if (written < 0) {
    set_io_error(error);
    gnutls_transport_set_errno(session_, EIO);
    return -1;
  }
  // Keep what the base did not take, in order.
  auto skip = static_cast<size_t>(written);
  for (int i = 0; i < iovcnt; i++) {
    const auto *bytes = static_cast<const guint8 *>(iov[i].iov_base);
    size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    write_buf_.insert(write_buf_.end(), bytes + skip, bytes + len);
    skip = 0;
  }
  output_pending_.store(!write_buf_.empty(), std::memory_order_release);
  return static_cast<ssize_t>(total);
}

int StreamTransport::pull_timeout_cb(gnutls_transport_ptr_t self, unsigned) noexcept
{
  // GnuTLS asks whether data is ready; we never let it wait here.
  auto *t = static_cast<StreamTransport *>(self);
  if (t->has_buffered_input())
    return 1;
  if (t->input_blocking_)
    return 1;  // a blocking pull will wait for it
  ssize_t n = t->fill(kReadAhead);
  if (n > 0 || n == 0)
    return 1;  // data, or EOF that pull will report
  return errno == EAGAIN ? 0 : -1;
}

void StreamTransport::set_input_mode(bool blocking, GCancellable *cancellable)
{
  // A plain socket is read without blocking either way: a blocking
  // operation then waits in the driver, on the socket and the cancellable.
  input_fd_ = direct_fd();
  input_blocking_ = (blocking || !pollable_in_) && input_fd_ < 0;
  if (blocking)
    read_deadline_us_ = -1;  // a blocking read waits with the socket's own timeout
  input_cancellable_ = cancellable;
}

void StreamTransport::set_io_error(GError *error)
{
  std::lock_guard lock(error_mutex_);
  if (io_error_)
    g_error_free(error);  // the first cause is the one worth reporting
  else
    io_error_ = error;
}

bool StreamTransport::has_io_error()
{
  std::lock_guard lock(error_mutex_);
  return io_error_ != nullptr;
}

GError *StreamTransport::take_io_error()
{
  std::lock_guard lock(error_mutex_);
  GError *e = io_error_;
  io_error_ = nullptr;
  return e;
}

ssize_t StreamTransport::fill(size_t wanted)
{
  GError *error = nullptr;
  if (!read_buf_)
    read_buf_.reset(new guint8[read_capacity_]);
  gssize n;
  bool would_block = false;
  if (input_fd_ >= 0) {
    while ((n = recv(input_fd_, read_buf_.get(), read_capacity_, MSG_DONTWAIT)) < 0 && errno == EINTR) {
    }
    int code = errno;
    if (n < 0 && (code == EAGAIN || code == EWOULDBLOCK))
      would_block = true;
    else if (n < 0)
      g_set_error(&error, G_IO_ERROR, g_io_error_from_errno(code), _("Error receiving data: %s"),
                  g_strerror(code));
  } else {
    size_t size = pollable_in_ ? read_capacity_ : std::min(wanted, read_capacity_);
    n = input_blocking_
            ? g_input_stream_read(in_, read_buf_.get(), size, input_cancellable_, &error)
            : g_pollable_input_stream_read_nonblocking(G_POLLABLE_INPUT_STREAM(in_), read_buf_.get(),
                                                       size, nullptr, &error);
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      would_block = true;
      g_clear_error(&error);
    }
  }
  if (n > 0) {
    read_deadline_us_ = -1;
    read_begin_ = 0;
    read_end_ = static_cast<size_t>(n);
    // A full buffer means more is waiting: read more at a time until a fill
    // comes back short of one record.
    if (read_end_ == read_capacity_)
      read_capacity_ = kReadAheadBulk;
    else if (read_end_ < kReadAhead)
      read_capacity_ = kReadAhead;
    return n;
  }
  read_buf_.reset();  // nothing read: an idle connection holds no read-ahead memory
  if (n == 0) {
    eof_ = true;
    return 0;
  }
  if (would_block && read_deadline_us_ >= 0 && g_get_monotonic_time() >= read_deadline_us_) {
    read_deadline_us_ = -1;
    would_block = false;
    g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
  }
  if (would_block) {
    gnutls_transport_set_errno(session_, EAGAIN);
    errno = EAGAIN;
    return -1;
  }
  // A timeout or a cancellation ends the operation, not the session: GnuTLS
  // sees "again" (it would invalidate the session on an I/O error) and the
  // driver reports the real error.
  bool recoverable = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
                     g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  set_io_error(error);
  int code = recoverable ? EAGAIN : EIO;
  gnutls_transport_set_errno(session_, code);
  errno = code;
  return -1;
}

ssize_t StreamTransport::pull(void *buf, size_t len)
{
  if (read_begin_ == read_end_) {
    ssize_t n = fill(len);
    if (n <= 0)
      return n;
  }
  size_t take = std::min(len, read_end_ - read_begin_);
  memcpy(buf, read_buf_.get() + read_begin_, take);
  read_begin_ += take;
  if (read_begin_ == read_end_)
    read_buf_.reset();
  return static_cast<ssize_t>(take);
}

ssize_t StreamTransport::push(const void *buf, size_t len)
{
  std::lock_guard lock(out_mutex_);
  const auto *bytes = static_cast<const guint8 *>(buf);
  if (!pollable_out_) {
    GError *error = nullptr;
    if (!g_output_stream_write_all(out_, bytes, len, nullptr, nullptr, &error)) {
      set_io_error(error);
      gnutls_transport_set_errno(session_, EIO);
      return -1;
    }
    return static_cast<ssize_t>(len);
  }
  size_t written = 0;
  if (write_buf_.empty()) {
    GError *error = nullptr;
    giovec_t vector{const_cast<guint8 *>(bytes), len};
    gssize n = write_now(&vector, 1, &error);
    if (n < 0) {
      set_io_error(error);
      gnutls_transport_set_errno(session_, EIO);
      return -1;
    }
    written = static_cast<size_t>(n);
  }
  write_buf_.insert(write_buf_.end(), bytes + written, bytes + len);
  output_pending_.store(!write_buf_.empty(), std::memory_order_release);
  return static_cast<ssize_t>(len);
}

bool StreamTransport::has_pending_output()
{
  return output_pending_.load(std::memory_order_acquire);
}

FlushResult StreamTransport::flush(GError **error)
{
  // Nothing buffered is the usual case: no lock for it, once per record.
  if (!has_pending_output())
    return FlushResult::Flushed;
  std::lock_guard lock(out_mutex_);
  while (!write_buf_.empty()) {
    GError *local = nullptr;
    giovec_t vector{write_buf_.data(), write_buf_.size()};
    gssize n = write_now(&vector, 1, &local);
    if (n == 0)
      return FlushResult::WouldBlock;
    if (n < 0) {
      write_buf_.clear();
      output_pending_.store(false, std::memory_order_release);
      g_propagate_error(error, local);
      return FlushResult::Failed;
    }
    write_buf_.erase(write_buf_.begin(), write_buf_.begin() + n);
  }
  output_pending_.store(false, std::memory_order_release);
  return FlushResult::Flushed;
}

bool StreamTransport::base_ready(Wait what)
{
  if (what == Wait::Readable)
    return !pollable_in_ || g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(in_));
  return !pollable_out_ || g_pollable_output_stream_is_writable(G_POLLABLE_OUTPUT_STREAM(out_));
}

bool StreamTransport::wait(Wait what, gint64 timeout_us, GCancellable *cancellable, GError **error)
{
  if (socket_) {
    GIOCondition cond = what == Wait::Readable ? G_IO_IN : G_IO_OUT;
    if (int fd = direct_fd(); fd >= 0)
      return wakeup_.wait_fd(fd, cond, timeout_us, cancellable, error);
    wakeup_.hold(cancellable);
    return g_socket_condition_timed_wait(socket_, cond, timeout_us, cancellable, error);
  }
  if (!pollable()) {
    return !g_cancellable_set_error_if_cancelled(cancellable, error);
  }
  // A pollable stream that is not a socket: wait on its source in a private context.
  Owned<GMainContext *> context(g_main_context_new());
  Owned<GSource *> source(create_source(what, cancellable));
  bool ready = false;
  g_source_set_callback(
      source.get(),
      [](gpointer data) noexcept -> gboolean {
        *static_cast<bool *>(data) = true;
        return G_SOURCE_REMOVE;
      },
      &ready, nullptr);
  g_source_attach(source.get(), context.get());
  Owned<GSource *> timer;
  bool timed_out = false;
  if (timeout_us > 0) {
    timer.reset(g_timeout_source_new(static_cast<guint>(timeout_us / 1000)));
    g_source_set_callback(
        timer.get(),
        [](gpointer data) noexcept -> gboolean {
          *static_cast<bool *>(data) = true;
          return G_SOURCE_REMOVE;
        },
        &timed_out, nullptr);
    g_source_attach(timer.get(), context.get());
  }
  while (!ready && !timed_out)
    g_main_context_iteration(context.get(), TRUE);
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return false;
  if (!ready) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
    return false;
  }
  return true;
}

int StreamTransport::poll_fd()
{
  return socket_fd_ >= 0 && g_socket_get_timeout(socket_) == 0 ? socket_fd_ : -1;
}

GSource *StreamTransport::create_source(Wait what, GCancellable *cancellable)
{
  GSource *base = what == Wait::Readable
                      ? g_pollable_input_stream_create_source(G_POLLABLE_INPUT_STREAM(in_), cancellable)
                      : g_pollable_output_stream_create_source(G_POLLABLE_OUTPUT_STREAM(out_), cancellable);
  GSource *source = plain_source_wrapping(base);
  guint timeout_s = socket_ ? g_socket_get_timeout(socket_) : 0;
  if (what == Wait::Readable && timeout_s > 0) {
    if (read_deadline_us_ < 0)
      read_deadline_us_ = g_get_monotonic_time() + static_cast<gint64>(timeout_s) * G_USEC_PER_SEC;
    g_source_set_ready_time(source, read_deadline_us_);
  }
  return source;
}

}  // namespace gtg
