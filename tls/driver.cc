#include "driver.h"

#include <glib/gi18n-lib.h>

namespace gtg {

namespace {

gboolean invoke_closure(gpointer data) noexcept
{
  GValue result = G_VALUE_INIT;
  g_value_init(&result, G_TYPE_BOOLEAN);
  g_closure_invoke(static_cast<GClosure *>(data), &result, 0, nullptr, nullptr);
  gboolean again = g_value_get_boolean(&result);
  g_value_unset(&result);
  return again;
}

GSourceFuncs plain_funcs = {
    nullptr,
    nullptr,
    [](GSource *, GSourceFunc callback, gpointer data) noexcept -> gboolean {
      return callback ? callback(data) : G_SOURCE_REMOVE;
    },
    nullptr,
    invoke_closure,
    nullptr,
};

}  // namespace

GSource *plain_source_new(const char *name)
{
  GSource *source = g_source_new(&plain_funcs, sizeof(GSource));
  g_source_set_static_name(source, name);
  return source;
}

GSource *plain_source_wrapping(GSource *child)
{
  GSource *source = plain_source_new("GioTlsGnutls transport");
  g_source_set_dummy_callback(child);
  g_source_add_child_source(source, child);
  g_source_unref(child);
  return source;
}

FdWaiter *Transport::waiter(Wait what)
{
  int fd = poll_fd();
  if (fd < 0)
    return nullptr;
  std::lock_guard lock(waiters_mutex_);
  std::unique_ptr<FdWaiter> &w = waiters_[what == Wait::Readable ? 0 : 1];
  if (!w)
    w = std::make_unique<FdWaiter>(fd, what == Wait::Readable ? G_IO_IN : G_IO_OUT);
  return w.get();
}

namespace {

// Where a loop iteration left the operation.
enum class Progress { Complete, Failed, MustWait };

// One pass of the loop shared by every mode: flush, check cancellation,
// step, flush. Stops when the operation completes or fails, or when it
// would have to wait (*out_wait says for what).
Progress advance(Transport &transport, StepRef step, bool &stepped_to_done,
                 GCancellable *cancellable, Wait *out_wait, GError **error)
{
  for (;;) {
    // Once the step is done, the operation has happened: only its output
    // is left to flush, and a cancellation no longer undoes it.
    if (!stepped_to_done && cancellable && g_cancellable_set_error_if_cancelled(cancellable, error))
      return Progress::Failed;
    switch (transport.flush(error)) {
    case FlushResult::Failed:
      return Progress::Failed;
    case FlushResult::WouldBlock:
      *out_wait = Wait::Writable;
      return Progress::MustWait;
    case FlushResult::Flushed:
      break;
    }
    if (stepped_to_done)
      return Progress::Complete;
    switch (conclude_step(transport, step(error), error)) {
    case StepOutcome::Complete:  // the usual case: nothing left to flush
      stepped_to_done = true;
      return Progress::Complete;
    case StepOutcome::Flush:
      stepped_to_done = true;
      continue;
    case StepOutcome::Failed:
      return Progress::Failed;
    case StepOutcome::Again:
      if (transport.has_pending_output() || transport.has_buffered_input())
        continue;
      *out_wait = Wait::Readable;
      return Progress::MustWait;
    }
  }
}

// The state of one asynchronous run; freed when `done` has been called.
struct AsyncRun {
  Transport &transport;
  Step step;
  int io_priority;
  Ref<GCancellable> cancellable;
  DoneFn done;
  GMainContext *context;  // (owned)
  bool stepped_to_done = false;

  ~AsyncRun() { g_main_context_unref(context); }

  static gboolean on_ready(gpointer data) noexcept;
  void resume();
};

gboolean AsyncRun::on_ready(gpointer data) noexcept
{
  static_cast<AsyncRun *>(data)->resume();
  return G_SOURCE_REMOVE;
}

void AsyncRun::resume()
{
  Wait wait = Wait::Readable;
  GError *error = nullptr;
  switch (advance(transport, step, stepped_to_done, cancellable.get(), &wait, &error)) {
  case Progress::Complete:
  case Progress::Failed: {
    DoneFn finish = std::move(done);
    delete this;
    finish(error);
    return;
  }
  case Progress::MustWait: {
    gint64 retransmit_us = wait == Wait::Readable ? transport.retransmit_timeout_us() : -1;
    gint64 ready_time = retransmit_us >= 0 ? g_get_monotonic_time() + retransmit_us : -1;
    FdWaiter *waiter = transport.waiter(wait);
    if (waiter && waiter->arm(context, io_priority, cancellable.get(), ready_time, on_ready, this))
      return;
    GSource *source = transport.create_source(wait, cancellable.get());
    g_source_set_priority(source, io_priority);
    g_source_set_callback(source, on_ready, this, nullptr);
    g_source_attach(source, context);
    g_source_unref(source);
    return;
  }
  }
}

}  // namespace

bool drive_sync(Transport &transport, StepRef step, gint64 timeout_us, GCancellable *cancellable,
                GError **error, bool step_done)
{
  bool stepped_to_done = step_done;
  for (;;) {
    Wait wait = Wait::Readable;
    switch (advance(transport, step, stepped_to_done, cancellable, &wait, error)) {
    case Progress::Complete:
      return true;
    case Progress::Failed:
      return false;
    case Progress::MustWait: {
      // A DTLS handshake must be called again when its retransmission timer
      // fires, even if nothing arrived.
      gint64 retransmit_us = wait == Wait::Readable ? transport.retransmit_timeout_us() : -1;
      bool by_timer = retransmit_us >= 0 && (timeout_us < 0 || retransmit_us < timeout_us);
      GError *local = nullptr;
      if (!transport.wait(wait, by_timer ? retransmit_us : timeout_us, cancellable, &local)) {
        if (by_timer && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
          g_error_free(local);
          break;
        }
        g_propagate_error(error, local);
        return false;
      }
      break;
    }
    }
  }
}

bool drive_nonblocking(Transport &transport, StepRef step, Wait *out_wait, GError **error, bool step_done)
{
  bool stepped_to_done = step_done;
  switch (advance(transport, step, stepped_to_done, nullptr, out_wait, error)) {
  case Progress::Complete:
    return true;
  case Progress::Failed:
    return false;
  case Progress::MustWait:
    // A completed step whose output is still buffered counts as done: the
    // bytes are GnuTLS's, sent on the next flush.
    if (stepped_to_done)
      return true;
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                        _("Operation would block"));
    return false;
  }
  return false;
}

void drive_async(Transport &transport, Step step, int io_priority, GCancellable *cancellable,
                 DoneFn done)
{
  GMainContext *context = g_main_context_ref_thread_default();
  auto *run = new AsyncRun{transport, std::move(step), io_priority,
                           Ref<GCancellable>::retain(cancellable),
                           std::move(done), context};
  // Start from an idle so that `done` never runs inside the caller's call.
  GSource *idle = g_idle_source_new();
  g_source_set_priority(idle, io_priority);
  g_source_set_callback(idle, AsyncRun::on_ready, run, nullptr);
  g_source_attach(idle, context);
  g_source_unref(idle);
}

namespace {

// Keeps flushing buffered output from the main context until it is all out.
struct BackgroundFlush {
  Transport &transport;
  Ref<GObject> keepalive;

  static gboolean on_writable(gpointer data) noexcept
  {
    auto *self = static_cast<BackgroundFlush *>(data);
    GError *error = nullptr;
    switch (self->transport.flush(&error)) {
    case FlushResult::WouldBlock:
      return G_SOURCE_CONTINUE;
    case FlushResult::Failed:
      g_debug("Background flush failed: %s", error->message);
      g_error_free(error);
      break;
    case FlushResult::Flushed:
      break;
    }
    return G_SOURCE_REMOVE;
  }
};

}  // namespace

void flush_in_background(Transport &transport, GObject *keepalive)
{
  if (!transport.has_pending_output())
    return;
  auto *flush = new BackgroundFlush{transport, Ref<GObject>::retain(keepalive)};
  GSource *source = transport.create_source(Wait::Writable, nullptr);
  g_source_set_callback(source, BackgroundFlush::on_writable, flush,
                        [](gpointer data) noexcept { delete static_cast<BackgroundFlush *>(data); });
  GMainContext *context = g_main_context_ref_thread_default();
  g_source_attach(source, context);
  g_main_context_unref(context);
  g_source_unref(source);
}

void flush_best_effort(Transport &transport)
{
  GError *ignored = nullptr;
  if (transport.flush(&ignored) == FlushResult::Failed)
    g_error_free(ignored);
}

}  // namespace gtg
