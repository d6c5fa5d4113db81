// FdWaiter: one GSource per transport and direction that stays attached to
// a main context and serves every asynchronous wait of that direction.
//
// Creating, attaching and destroying a pollable GSource for each wait costs
// three or four sources per wait, and GLib inserts and removes each poll
// record with a walk over every poll record of the context: with thousands
// of connections on one context that walk dominates a handshake. An FdWaiter
// polls the base socket's file descriptor through g_source_add_unix_fd()
// once and only changes the events it waits for (g_source_modify_unix_fd()),
// so arming it is constant time. A cancellable gets a child source per wait
// (no poll record); a DTLS retransmission timer is the source's ready time.
// The driver falls back to a fresh source when the waiter cannot serve a
// wait (it is armed for another operation, or attached to another context).
// Threads: arm() and the callback run on the thread that iterates the
// context; the state is locked because a reader and a writer may use
// different contexts, and the waiter may be destroyed on any thread.
#pragma once

#include <gio/gio.h>

#include <mutex>

namespace gtg {

class FdWaiter {
public:
  // Waits on `fd` (which must outlive the waiter) for `condition`.
  FdWaiter(int fd, GIOCondition condition) : fd_(fd), condition_(condition) {}
  FdWaiter(const FdWaiter &) = delete;
  FdWaiter &operator=(const FdWaiter &) = delete;
  ~FdWaiter();

  // Arms the waiter: `callback(data)` runs once on `context` when the
  // descriptor is ready, `cancellable` fires, or the monotonic time
  // `ready_time` (-1: none) passes. False, doing nothing, when the waiter is
  // armed already.
  bool arm(GMainContext *context, int priority, GCancellable *cancellable, gint64 ready_time,
           GSourceFunc callback, gpointer data);

  // Disarms the waiter if it is armed with `data`, without calling back.
  // From the thread that owns the context.
  void cancel(gpointer data);

private:
  // The source and the state its dispatch uses, in the memory of the
  // GSource: GLib keeps it alive while it dispatches, also when the waiter
  // is destroyed on another thread meanwhile.
  struct Source {
    GSource base;
    std::mutex mutex;
    gpointer tag;                  // the fd's tag, null when removed
    GSource *cancel_source;        // (owned, nullable) child while armed
    GSourceFunc callback;          // non-null while armed
    gpointer data;
  };

  static gboolean dispatch(GSource *source, GSourceFunc, gpointer) noexcept;
  static void finalize(GSource *source) noexcept;
  static GSourceFuncs funcs_;

  // Takes the armed callback, leaving the source idle; false if none.
  static bool disarm(Source *s, GSourceFunc *out_callback, gpointer *out_data);
  Source *new_source(GMainContext *context, int priority);
  void drop_source();

  const int fd_;
  const GIOCondition condition_;

  std::mutex mutex_;
  Source *source_ = nullptr;  // (owned, nullable) guarded by mutex_; attached to context_
  GMainContext *context_ = nullptr;  // (unowned) the source holds it
};

}  // namespace gtg
