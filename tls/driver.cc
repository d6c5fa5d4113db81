#include "driver.h"

#include <glib/gi18n-lib.h>

#include <algorithm>
#include <utility>

namespace gtg {

gboolean invoke_plain_closure(gpointer data) noexcept
{
  GValue result = G_VALUE_INIT;
  g_value_init(&result, G_TYPE_BOOLEAN);
  g_closure_invoke(static_cast<GClosure *>(data), &result, 0, nullptr, nullptr);
  gboolean again = g_value_get_boolean(&result);
  g_value_unset(&result);
  return again;
}

namespace {

GSourceFuncs plain_funcs = {
    nullptr,
    nullptr,
    [](GSource *, GSourceFunc callback, gpointer data) noexcept -> gboolean {
      return callback ? callback(data) : G_SOURCE_REMOVE;
    },
    nullptr,
    invoke_plain_closure,
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
enum class Progress { Complete, Failed, MustWait, Suspended };

// One pass of the loop shared by every mode: flush, check cancellation,
// step, flush. Stops when the operation completes or fails, or when it
// would have to wait (*out_wait says for what). With `resume_step` the step
// was suspended and is called first: it alone decides what a cancellation
// means for the work it holds.
Progress advance(Transport &transport, StepRef step, bool &stepped_to_done,
                 GCancellable *cancellable, Wait *out_wait, GError **error,
                 bool resume_step = false)
{
  for (;;) {
    if (!resume_step) {
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
    }
    resume_step = false;
    switch (conclude_step(transport, step(error), error)) {
    case StepOutcome::Complete:  // the usual case: nothing left to flush
      stepped_to_done = true;
      return Progress::Complete;
    case StepOutcome::Flush:
      stepped_to_done = true;
      continue;
    case StepOutcome::Failed:
      return Progress::Failed;
    case StepOutcome::Suspended:
      return Progress::Suspended;
    case StepOutcome::Again:
      if (transport.has_pending_output() || transport.has_buffered_input())
        continue;
      *out_wait = Wait::Readable;
      return Progress::MustWait;
    }
  }
}

}  // namespace

// The state of one asynchronous run; freed when `done` has been called (or
// when it is abandoned).
class AsyncRun {
public:
  AsyncRun(Transport &transport, Step step, int io_priority, GCancellable *cancellable, DoneFn done,
           HandshakeFiber *fiber, GMainContext *context)
      : transport_(transport), step_(std::move(step)), io_priority_(io_priority),
        cancellable_(Ref<GCancellable>::retain(cancellable)), done_(std::move(done)),
        fiber_(fiber),
        context_(context ? g_main_context_ref(context) : g_main_context_ref_thread_default())
  {
  }
  ~AsyncRun()
  {
    if (early_error_)
      g_error_free(early_error_);
    drop_wait();
    g_main_context_unref(context_);
  }

  // Starts the run: from an idle, or with `step_now` by a first pass in
  // the caller's call.
  void start(bool step_now);
  Abandon abandon();

private:
  static gboolean on_ready(gpointer data) noexcept;
  void resume();
  // Waits for what `progress` (MustWait for `wait`, or Suspended) needs.
  void wait_for(Progress progress, Wait wait);
  void wait_on(GSource *source);
  void drop_wait();

  Transport &transport_;
  Step step_;
  int io_priority_;
  Ref<GCancellable> cancellable_;
  DoneFn done_;
  HandshakeFiber *fiber_;  // (unowned, nullable) the step's fiber
  GMainContext *context_;  // (owned)
  bool stepped_to_done_ = false;
  bool resume_step_ = false;  // the step was suspended: call it first
  bool executing_ = false;    // inside resume()
  bool finished_early_ = false;  // the first pass ended the run: `done` is due
  GError *early_error_ = nullptr;  // (owned, nullable) its error
  GSource *source_ = nullptr;  // (owned, nullable) the source waited on
  FdWaiter *armed_ = nullptr;  // (unowned, nullable) the waiter armed for us
};

gboolean AsyncRun::on_ready(gpointer data) noexcept
{
  auto *run = static_cast<AsyncRun *>(data);
  run->armed_ = nullptr;
  if (run->source_) {
    g_source_unref(run->source_);
    run->source_ = nullptr;
  }
  run->resume();
  return G_SOURCE_REMOVE;
}

void AsyncRun::wait_on(GSource *source)
{
  g_source_set_priority(source, io_priority_);
  g_source_set_callback(source, on_ready, this, nullptr);
  g_source_attach(source, context_);
  source_ = source;  // the reference create_source gave
}

void AsyncRun::drop_wait()
{
  if (source_) {
    g_source_destroy(source_);
    g_source_unref(source_);
    source_ = nullptr;
  }
  if (armed_) {
    armed_->cancel(this);
    armed_ = nullptr;
  }
}

void AsyncRun::start(bool step_now)
{
  if (step_now) {
    // The first pass runs in the caller's call; `done` still never does.
    Wait wait = Wait::Readable;
    executing_ = true;
    Progress progress = advance(transport_, step_, stepped_to_done_, cancellable_.get(), &wait,
                                &early_error_);
    executing_ = false;
    if (progress == Progress::Complete || progress == Progress::Failed) {
      finished_early_ = true;
      wait_on(g_idle_source_new());
      return;
    }
    wait_for(progress, wait);
    return;
  }
  // Start from an idle so that `done` never runs inside the caller's call.
  wait_on(g_idle_source_new());
}

Abandon AsyncRun::abandon()
{
  if (executing_ || resume_step_)
    return Abandon::Busy;
  if (finished_early_) {
    // Its first pass ended it; only the call of `done` was left for later.
    DoneFn finish = std::move(done_);
    GError *error = std::exchange(early_error_, nullptr);
    delete this;
    finish(error);
    return Abandon::Finished;
  }
  delete this;
  return Abandon::Taken;
}

void AsyncRun::resume()
{
  Wait wait = Wait::Readable;
  GError *error = std::exchange(early_error_, nullptr);
  Progress progress = Progress::Complete;
  if (finished_early_) {
    progress = error ? Progress::Failed : Progress::Complete;
  } else {
    executing_ = true;
    bool resume_step = std::exchange(resume_step_, false);
    progress = advance(transport_, step_, stepped_to_done_, cancellable_.get(), &wait, &error,
                       resume_step);
    executing_ = false;
  }
  switch (progress) {
  case Progress::Complete:
  case Progress::Failed: {
    DoneFn finish = std::move(done_);
    delete this;
    finish(error);
    return;
  }
  default:
    wait_for(progress, wait);
    return;
  }
}

void AsyncRun::wait_for(Progress progress, Wait wait)
{
  switch (progress) {
  case Progress::Complete:
  case Progress::Failed:
    return;
  case Progress::Suspended:
    resume_step_ = true;
    wait_on(fiber_->create_wake_source(cancellable_.get()));
    return;
  case Progress::MustWait: {
    gint64 retransmit_us = wait == Wait::Readable ? transport_.retransmit_timeout_us() : -1;
    gint64 ready_time = retransmit_us >= 0 ? g_get_monotonic_time() + retransmit_us : -1;
    FdWaiter *waiter = transport_.waiter(wait);
    if (waiter && waiter->arm(context_, io_priority_, cancellable_.get(), ready_time, on_ready, this)) {
      armed_ = waiter;
      return;
    }
    wait_on(transport_.create_source(wait, cancellable_.get()));
    return;
  }
  }
}

bool drive_sync(Transport &transport, StepRef step, gint64 timeout_us, GCancellable *cancellable,
                GError **error, bool step_done)
{
  bool stepped_to_done = step_done;
  gint64 deadline = timeout_us >= 0 ? g_get_monotonic_time() + timeout_us : -1;
  for (;;) {
    Wait wait = Wait::Readable;
    switch (advance(transport, step, stepped_to_done, cancellable, &wait, error)) {
    case Progress::Complete:
      return true;
    case Progress::Failed:
      return false;
    case Progress::Suspended:
      // Only async runs put steps on a fiber.
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Operation failed"));
      return false;
    case Progress::MustWait: {
      gint64 left = deadline >= 0 ? std::max<gint64>(deadline - g_get_monotonic_time(), 0) : -1;
      // A DTLS handshake must be called again when its retransmission timer
      // fires, even if nothing arrived.
      gint64 retransmit_us = wait == Wait::Readable ? transport.retransmit_timeout_us() : -1;
      bool by_timer = retransmit_us >= 0 && (left < 0 || retransmit_us < left);
      GError *local = nullptr;
      if (!transport.wait(wait, by_timer ? retransmit_us : left, cancellable, &local)) {
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
  case Progress::Suspended:  // only async runs put steps on a fiber
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Operation failed"));
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

AsyncRun *drive_async(Transport &transport, Step step, int io_priority, GCancellable *cancellable,
                      DoneFn done, HandshakeFiber *fiber, bool step_now, GMainContext *context)
{
  auto *run = new AsyncRun(transport, std::move(step), io_priority, cancellable, std::move(done), fiber,
                           context);
  run->start(step_now);
  return run;
}

Abandon abandon_async(AsyncRun *run)
{
  return run->abandon();
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
