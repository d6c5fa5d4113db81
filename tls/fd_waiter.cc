#include "fd_waiter.h"

#include <new>
#include <utility>

namespace gtg {

GSourceFuncs FdWaiter::funcs_ = {
    nullptr,
    nullptr,
    FdWaiter::dispatch,
    FdWaiter::finalize,
    nullptr,
    nullptr,
};

FdWaiter::~FdWaiter()
{
  std::lock_guard lock(mutex_);
  drop_source();
}

FdWaiter::Source *FdWaiter::new_source(GMainContext *context, int priority)
{
  GSource *source = g_source_new(&funcs_, sizeof(Source));
  auto *s = reinterpret_cast<Source *>(source);
  new (&s->mutex) std::mutex;
  s->tag = nullptr;
  s->cancel_source = nullptr;
  s->callback = nullptr;
  s->data = nullptr;
  g_source_set_static_name(source, "GioTlsGnutls waiter");
  // Not blocked while it dispatches: blocking would take the descriptor out
  // of the context's poll list and put it back, the very walk this waiter
  // exists to avoid. Dispatch disarms before it calls back, so a recursive
  // dispatch only ever sees the next wait.
  g_source_set_can_recurse(source, TRUE);
  g_source_set_priority(source, priority);
  s->tag = g_source_add_unix_fd(source, fd_, condition_);
  g_source_attach(source, context);
  return s;
}

void FdWaiter::drop_source()
{
  if (!source_)
    return;
  GSource *source = &source_->base;
  {
    std::lock_guard lock(source_->mutex);
    source_->callback = nullptr;
    source_->data = nullptr;
  }
  g_source_destroy(source);  // also destroys the cancellable child
  g_source_unref(source);
  source_ = nullptr;
  context_ = nullptr;
}

void FdWaiter::finalize(GSource *source) noexcept
{
  auto *s = reinterpret_cast<Source *>(source);
  if (s->cancel_source)
    g_source_unref(s->cancel_source);
  s->mutex.~mutex();
}

bool FdWaiter::arm(GMainContext *context, int priority, GCancellable *cancellable,
                   gint64 ready_time, GSourceFunc callback, gpointer data)
{
  std::lock_guard lock(mutex_);
  // A context that was freed destroyed the source; a new context may even
  // have the old one's address.
  if (source_ && (context_ != context || g_source_is_destroyed(&source_->base))) {
    bool armed_elsewhere = false;
    {
      std::lock_guard state(source_->mutex);
      armed_elsewhere = source_->callback && !g_source_is_destroyed(&source_->base);
    }
    if (armed_elsewhere)
      return false;
    drop_source();
  }
  if (!source_) {
    source_ = new_source(context, priority);
    context_ = context;
  }
  Source *s = source_;
  GSource *source = &s->base;
  std::lock_guard state(s->mutex);
  if (s->callback)
    return false;
  if (g_source_get_priority(source) != priority)
    g_source_set_priority(source, priority);
  if (s->tag)
    g_source_modify_unix_fd(source, s->tag, condition_);
  else
    s->tag = g_source_add_unix_fd(source, fd_, condition_);
  if (cancellable) {
    s->cancel_source = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(s->cancel_source);
    g_source_add_child_source(source, s->cancel_source);
  }
  g_source_set_ready_time(source, ready_time);
  s->callback = callback;
  s->data = data;
  return true;
}

bool FdWaiter::disarm(Source *s, GSourceFunc *out_callback, gpointer *out_data)
{
  GSource *source = &s->base;
  std::lock_guard lock(s->mutex);
  if (g_source_is_destroyed(source))
    return false;
  g_source_set_ready_time(source, -1);
  if (s->cancel_source) {
    g_source_remove_child_source(source, s->cancel_source);
    g_source_unref(s->cancel_source);
    s->cancel_source = nullptr;
  }
  if (!s->callback) {
    // Woken while idle: poll reports a hang-up or an error whatever the
    // events asked for. Stop polling the descriptor until the next wait.
    if (s->tag)
      g_source_remove_unix_fd(source, s->tag);
    s->tag = nullptr;
    return false;
  }
  if (s->tag)
    g_source_modify_unix_fd(source, s->tag, static_cast<GIOCondition>(0));
  *out_callback = std::exchange(s->callback, nullptr);
  *out_data = std::exchange(s->data, nullptr);
  return true;
}

void FdWaiter::cancel(gpointer data)
{
  std::lock_guard lock(mutex_);
  if (!source_)
    return;
  {
    std::lock_guard state(source_->mutex);
    if (!source_->callback || source_->data != data)
      return;
  }
  GSourceFunc callback = nullptr;
  gpointer ignored = nullptr;
  disarm(source_, &callback, &ignored);
}

gboolean FdWaiter::dispatch(GSource *source, GSourceFunc, gpointer) noexcept
{
  GSourceFunc callback = nullptr;
  gpointer data = nullptr;
  if (disarm(reinterpret_cast<Source *>(source), &callback, &data))
    callback(data);
  return G_SOURCE_CONTINUE;
}

}  // namespace gtg
