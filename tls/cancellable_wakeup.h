// CancellableWakeup: keeps the wakeup file descriptor of the cancellable a
// transport last waited with open between waits.
//
// GLib creates a cancellable's eventfd on g_cancellable_make_pollfd() and
// closes it on the matching release, and every GSocket wait with a
// cancellable does both: two extra system calls per wait, on every datagram
// or record a blocking reader waits for. Holding one use of the descriptor
// across waits makes the socket's own make/release pairs cheap. The held
// cancellable changes when a wait uses another one; the transport's owner
// releases it when the transport goes.
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

  // Called before a wait with `cancellable` (may be null).
  void hold(GCancellable *cancellable)
  {
    if (!cancellable)
      return;
    std::lock_guard lock(mutex_);
    if (held_.get() == cancellable)
      return;
    drop_locked();
    GPollFD pollfd;
    if (g_cancellable_make_pollfd(cancellable, &pollfd))
      held_ = Ref<GCancellable>::retain(cancellable);
  }

private:
  void drop()
  {
    std::lock_guard lock(mutex_);
    drop_locked();
  }

  void drop_locked()
  {
    if (held_)
      g_cancellable_release_fd(held_.get());
    held_.reset();
  }

  std::mutex mutex_;
  Ref<GCancellable> held_;  // guarded by mutex_
};

}  // namespace gtg
