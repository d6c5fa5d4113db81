// ConnectionCore, fifth part: handshakes that run with no caller waiting
// in them, and what lets a blocking caller find its way around them. An
// async handshake that may call application code steps on a HandshakeFiber
// (async_handshake_step); a nonblocking call's implicit handshake, and one
// that outlived a blocking call's timeout, runs in the background on a main
// context (run_handshake_in_background); a blocking caller takes such a run
// over, and a source of the connection brings it to the context it is
// polled on. docs/architecture.md ("How a handshake suspends", "Implicit
// handshakes and call timeouts") tells the whole story. The other parts:
// connection_core.cc (the session and the handshake), connection_io.cc
// (the gate, records, close and results), connection_certificates.cc and
// connection_errors.cc. The class is in connection_core.h.
#include "connection_core.h"

#include "database.h"
#include "handshake_fiber.h"

#include <glib/gi18n-lib.h>

#include <algorithm>
#include <chrono>

namespace gtg {

bool ConnectionCore::wait_changed(std::unique_lock<std::mutex> &lock, gint64 deadline_us)
{
  // Woken by the gate, and at least every 50 ms: the caller looks again at
  // what it cannot be woken for (its cancellable, a background run that
  // another thread stopped iterating and that it may now take over).
  constexpr gint64 kSliceUs = 50 * 1000;
  gint64 slice = kSliceUs;
  if (deadline_us >= 0) {
    gint64 left = deadline_us - g_get_monotonic_time();
    if (left <= 0)
      return false;
    slice = std::min(slice, left);
  }
  changed_.wait_for(lock, std::chrono::microseconds(slice));
  return true;
}

bool ConnectionCore::take_over_background(std::unique_lock<std::mutex> &lock)
{
  if (!background_run_)
    return false;
  GMainContext *context = g_main_context_ref(background_context_);
  lock.unlock();
  bool taken = false;
  // Owning the context, this thread knows the run is not dispatching, and
  // it cannot end meanwhile: only its context's dispatch ends it.
  if (g_main_context_acquire(context)) {
    AsyncRun *run = nullptr;
    {
      std::lock_guard peek(mutex_);
      run = background_context_ == context ? background_run_ : nullptr;
    }
    // Finished: the run's end was called now (the gate has its result).
    if (run && abandon_async(run) == Abandon::Taken) {
      std::lock_guard clear(mutex_);
      background_run_ = nullptr;
      ++background_generation_;
      g_clear_pointer(&background_context_, g_main_context_unref);
      taken = true;
      g_debug("Connection %u: a blocking call takes over the background handshake", id_);
    }
    g_main_context_release(context);
  }
  g_main_context_unref(context);
  lock.lock();
  return taken;
}

bool ConnectionCore::needs_fiber() const
{
  // libsoup sets an interaction on every connection; a step that never
  // reaches application code costs two context switches on the fiber.
  return interaction || (database && !database_is_own(database.get()));
}

void ConnectionCore::ensure_fiber()
{
  if (!fiber_ && needs_fiber()) {
    auto fiber = std::make_unique<HandshakeFiber>();
    std::lock_guard lock(mutex_);
    fiber_ = std::move(fiber);
  }
}

StepResult ConnectionCore::fiber_step(void *self, GError **error) noexcept
{
  auto *core = static_cast<ConnectionCore *>(self);
  return core->rehandshaking_ ? core->rehandshake_step(error) : core->handshake_step(error);
}

StepResult ConnectionCore::async_handshake_step(GCancellable *cancellable, GError **error)
{
  op_cancellable_ = cancellable;
  stepping_thread_ = g_thread_self();
  StepResult r;
  if (fiber_ && (fiber_->is_suspended() || needs_fiber())) {
    bool cancelled = cancellable && g_cancellable_is_cancelled(cancellable);
    bool closing = closing_.load();
    if (fiber_->is_suspended() && (cancelled || closing))
      fiber_->abort();
    GError *local = nullptr;
    r = fiber_->run(fiber_step, this, &local);
    if (r == StepResult::Failed && fiber_->aborted()) {
      // The application's answer was given up: say why, not what GnuTLS
      // made of the callback's failure.
      g_clear_error(&local);
      if (cancelled)
        g_set_error_literal(&local, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
      else
        g_set_error_literal(&local, G_IO_ERROR, G_IO_ERROR_CLOSED, _("Connection is closed"));
    }
    if (local)
      g_propagate_error(error, local);
  } else {
    r = rehandshaking_ ? rehandshake_step(error) : handshake_step(error);
  }
  stepping_thread_ = nullptr;
  op_cancellable_ = nullptr;
  return r;
}

void ConnectionCore::abort_suspended_handshake()
{
  closing_.store(true);
  std::lock_guard lock(mutex_);  // fiber_ is made under it, and kept
  if (fiber_ && fiber_->is_suspended())
    fiber_->abort();
}

void ConnectionCore::run_handshake_in_background(GMainContext *context, bool step_now)
{
  g_object_ref(owner_);
  ensure_fiber();
  transport_->set_input_mode(false, nullptr);
  unsigned generation = 0;
  {
    std::lock_guard lock(mutex_);
    generation = ++background_generation_;
    g_clear_pointer(&background_context_, g_main_context_unref);
    background_context_ = context ? g_main_context_ref(context) : g_main_context_ref_thread_default();
    context = background_context_;
  }
  Step step = [this](GError **e) { return async_handshake_step(nullptr, e); };
  // The first step runs now (a client's hello leaves at once, as from a
  // handshake thread); the rest from the context's dispatch.
  AsyncRun *run = drive_async(
      *transport_, std::move(step), G_PRIORITY_DEFAULT, nullptr,
      [this](GError *e) {
        {
          std::lock_guard done_lock(mutex_);
          background_run_ = nullptr;
          ++background_generation_;
          g_clear_pointer(&background_context_, g_main_context_unref);
        }
        if (e)
          g_debug("Connection %u: background handshake failed: %s", id_, e->message);
        conclude_handshake(e == nullptr, e);
        if (e)
          g_error_free(e);
        g_object_unref(owner_);
      },
      fiber_.get(), step_now, context);
  std::lock_guard lock(mutex_);
  if (background_generation_ == generation)
    background_run_ = run;  // not ended yet (it may have, on another thread)
}

void ConnectionCore::move_background_to(GMainContext *context)
{
  bool moved = false;
  {
    std::unique_lock lock(mutex_);
    if (!background_run_ || !context || background_context_ == context)
      return;
    GMainContext *old = g_main_context_ref(background_context_);
    lock.unlock();
    bool acquired = g_main_context_acquire(old);
    AsyncRun *run = nullptr;
    lock.lock();
    if (acquired && background_context_ == old)
      run = background_run_;
    lock.unlock();
    if (run && abandon_async(run) == Abandon::Taken) {
      lock.lock();
      background_run_ = nullptr;
      ++background_generation_;
      g_clear_pointer(&background_context_, g_main_context_unref);
      moved = true;
    }
    if (acquired)
      g_main_context_release(old);
    g_main_context_unref(old);
  }
  if (!moved)
    return;
  g_debug("Connection %u: the background handshake follows a source to another main context", id_);
  run_handshake_in_background(context, false);
  g_object_unref(owner_);  // the abandoned run's reference
}

}  // namespace gtg
