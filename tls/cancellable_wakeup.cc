#include "cancellable_wakeup.h"

#include <glib/gi18n-lib.h>

#include <algorithm>
#include <cerrno>
#include <poll.h>

namespace gtg {

int CancellableWakeup::hold(GCancellable *cancellable)
{
  if (!cancellable)
    return -1;
  std::lock_guard lock(mutex_);
  if (held_.get() == cancellable)
    return held_fd_;
  drop_locked();
  GPollFD pollfd;
  if (g_cancellable_make_pollfd(cancellable, &pollfd)) {
    held_ = Ref<GCancellable>::retain(cancellable);
    held_fd_ = pollfd.fd;
  }
  return held_fd_;
}

void CancellableWakeup::drop()
{
  std::lock_guard lock(mutex_);
  drop_locked();
}

void CancellableWakeup::drop_locked()
{
  if (held_)
    g_cancellable_release_fd(held_.get());
  held_.reset();
  held_fd_ = -1;
}

bool CancellableWakeup::wait_fd(int fd, GIOCondition condition, gint64 timeout_us,
                                GCancellable *cancellable, GError **error)
{
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return false;
  int cancel_fd = hold(cancellable);
  gint64 deadline = timeout_us > 0 ? g_get_monotonic_time() + timeout_us : -1;
  for (;;) {
    int timeout_ms = -1;
    if (timeout_us == 0)
      timeout_ms = 0;
    else if (deadline >= 0)  // rounded up: a wait never ends early and spins
      timeout_ms = static_cast<int>((std::max<gint64>(deadline - g_get_monotonic_time(), 0) + 999) / 1000);
    struct pollfd fds[2] = {{fd, static_cast<short>(condition), 0}, {cancel_fd, POLLIN, 0}};
    int n = poll(fds, cancel_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) {
      int code = errno;
      if (code == EINTR)
        continue;
      g_set_error_literal(error, G_IO_ERROR, g_io_error_from_errno(code), g_strerror(code));
      return false;
    }
    if (n > 0)
      break;
    if (timeout_ms == 0 || g_get_monotonic_time() >= deadline) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
      return false;
    }
  }
  return !g_cancellable_set_error_if_cancelled(cancellable, error);
}

}  // namespace gtg
