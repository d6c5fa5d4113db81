// CancellableWakeup: keeps the wakeup file descriptor of the cancellable a
// transport last waited with open between waits, and waits on a socket's
// descriptor and that wakeup together.
//
// GLib creates a cancellable's eventfd on g_cancellable_make_pollfd() and
// closes it on the matching release, and every GSocket wait with a
// cancellable does both: two extra system calls per wait, on every datagram
// or record a blocking reader waits for. Holding one use of the descriptor
// across waits makes the socket's own make/release pairs cheap. The held
// cancellable changes when a wait uses another one; the transport's owner
// releases it when the transport goes.
//
// Even when cheap, each make/release pair writes the cancellable's private
// data, and a cancellable is often shared by a connection's reader and
// writer (or by many connections): on another core every GObject type check
// of it then misses the cache. wait_fd() polls the held descriptor itself,
// so a wait writes nothing the cancellable's other users read.
// Threads: any; the reader and the writer of a connection may both wait.
#pragma once

#include "owners.h"

#include <gio/gio.h>

#include <mutex>

namespace gtg {

class CancellableWakeup {
public:
  CancellableWakeup() = default;
  CancellableWakeup(const CancellableWakeup &) = delete;
  CancellableWakeup &operator=(const CancellableWakeup &) = delete;
  ~CancellableWakeup() { drop(); }

  // Called before a wait with `cancellable` (may be null): the descriptor
  // that becomes readable when it is cancelled, or -1 when there is none.
  int hold(GCancellable *cancellable);

  // Waits, as g_socket_condition_timed_wait() does for a socket without a
  // GIO timeout, until the socket descriptor `fd` is ready for `condition`
  // or has an error, `timeout_us` passes (-1: no limit; G_IO_ERROR_TIMED_OUT)
  // or `cancellable` fires (G_IO_ERROR_CANCELLED). `fd` must stay open.
  bool wait_fd(int fd, GIOCondition condition, gint64 timeout_us, GCancellable *cancellable,
               GError **error);

private:
  void drop();
  void drop_locked();

  std::mutex mutex_;
  Ref<GCancellable> held_;  // guarded by mutex_
  int held_fd_ = -1;        // held_'s wakeup descriptor, guarded by mutex_
};

}  // namespace gtg
