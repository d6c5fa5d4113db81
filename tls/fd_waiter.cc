#include "fd_waiter.h"

#include <utility>

namespace gtg {

GSourceFuncs FdWaiter::funcs_ = {
    nullptr,
    nullptr,
    FdWaiter::dispatch,
    nullptr,
    nullptr,
    nullptr,
};

FdWaiter::~FdWaiter()
{
  std::lock_guard lock(mutex_);
  detach_locked();
}

void FdWaiter::detach_locked()
{
  if (cancel_source_) {
    g_source_destroy(cancel_source_);
    g_source_unref(cancel_source_);
    cancel_source_ = nullptr;
  }
  if (source_) {
    g_source_destroy(source_);
    g_source_unref(source_);
    source_ = nullptr;
  }
  context_ = nullptr;
  tag_ = nullptr;
  callback_ = nullptr;
  data_ = nullptr;
}

bool FdWaiter::arm(GMainContext *context, int priority, GCancellable *cancellable,
                   gint64 ready_time, GSourceFunc callback, gpointer data)
{
  std::lock_guard lock(mutex_);
  if (callback_)
    return false;
  // A context that was freed destroyed the source; a new context may even
  // have the old one's address.
  if (source_ && (context_ != context || g_source_is_destroyed(source_)))
    detach_locked();
  if (!source_) {
    source_ = g_source_new(&funcs_, sizeof(Source));
    reinterpret_cast<Source *>(source_)->owner = this;
    g_source_set_static_name(source_, "GioTlsGnutls waiter");
    // Not blocked while it dispatches: blocking would take the descriptor
    // out of the context's poll list and put it back, the very walk this
    // waiter exists to avoid. Dispatch disarms before it calls back, so a
    // recursive dispatch only ever sees the next wait.
    g_source_set_can_recurse(source_, TRUE);
    g_source_set_priority(source_, priority);
    tag_ = g_source_add_unix_fd(source_, fd_, condition_);
    g_source_attach(source_, context);
    context_ = context;
  } else {
    if (g_source_get_priority(source_) != priority)
      g_source_set_priority(source_, priority);
    if (tag_)
      g_source_modify_unix_fd(source_, tag_, condition_);
    else
      tag_ = g_source_add_unix_fd(source_, fd_, condition_);
  }
  if (cancellable) {
    cancel_source_ = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancel_source_);
    g_source_add_child_source(source_, cancel_source_);
  }
  g_source_set_ready_time(source_, ready_time);
  callback_ = callback;
  data_ = data;
  return true;
}

bool FdWaiter::disarm(GSourceFunc *out_callback, gpointer *out_data)
{
  std::lock_guard lock(mutex_);
  g_source_set_ready_time(source_, -1);
  if (cancel_source_) {
    g_source_remove_child_source(source_, cancel_source_);
    g_source_unref(cancel_source_);
    cancel_source_ = nullptr;
  }
  if (!callback_) {
    // Woken while idle: poll reports a hang-up or an error whatever the
    // events asked for. Stop polling the descriptor until the next wait.
    if (tag_)
      g_source_remove_unix_fd(source_, tag_);
    tag_ = nullptr;
    return false;
  }
  if (tag_)
    g_source_modify_unix_fd(source_, tag_, static_cast<GIOCondition>(0));
  *out_callback = std::exchange(callback_, nullptr);
  *out_data = std::exchange(data_, nullptr);
  return true;
}

gboolean FdWaiter::dispatch(GSource *source, GSourceFunc, gpointer) noexcept
{
  FdWaiter *self = reinterpret_cast<Source *>(source)->owner;
  GSourceFunc callback = nullptr;
  gpointer data = nullptr;
  if (self->disarm(&callback, &data))
    callback(data);
  return G_SOURCE_CONTINUE;
}

}  // namespace gtg
