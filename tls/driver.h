// The driver: the single loop that owns all I/O waiting of an operation.
//
// An operation is a `Step`: a function that makes one call into GnuTLS and
// says whether it finished, failed, or needs the transport (GnuTLS said
// "again"). The driver flushes buffered output, checks the cancellable, and
// waits in one of three ways, all on the calling thread:
// - sync: a poll on the transport and the cancellable (Transport::wait);
// - nonblocking: returns G_IO_ERROR_WOULD_BLOCK and remembers what it waits
//   for, so that a pollable source can wait for it (GPollable streams);
// - async: a transport GSource attached to the thread-default main context of
//   the caller, which re-enters the loop from its callback.
// Steps never do I/O waiting themselves; the driver never calls GnuTLS.
// After every step the driver tells the transport (Transport::after_step),
// so that it can account for what GnuTLS sent in that call (the DTLS
// transport counts retransmitted flights that way).
#pragma once

#include "handshake_fiber.h"
#include "transport.h"

#include <functional>

namespace gtg {

using Step = std::function<StepResult(GError **error)>;

// A step the caller owns for the length of one sync or nonblocking run: a
// reference to any callable, so that a record read or write costs no
// allocation (a std::function holding a lambda with a few captures does).
class StepRef {
public:
  template <typename F>
  StepRef(F &callable) noexcept  // NOLINT: converts implicitly, like std::function_ref
      : object_(&callable),
        call_([](void *object, GError **error) { return (*static_cast<F *>(object))(error); })
  {
  }
  StepResult operator()(GError **error) const { return call_(object_, error); }

private:
  void *object_;
  StepResult (*call_)(void *object, GError **error);
};

// Pushes out whatever output is buffered, giving up at the first wait; used
// after a failure to deliver the alert GnuTLS queued without delaying the
// caller.
void flush_best_effort(Transport &transport);

// Runs `step` to completion, waiting synchronously. `timeout_us` bounds the
// whole run (-1: no bound beyond the transport's own timeout); past it the
// run fails with G_IO_ERROR_TIMED_OUT. With `step_done` the step has
// completed already (see first_step) and only its output is left to flush.
bool drive_sync(Transport &transport, StepRef step, gint64 timeout_us, GCancellable *cancellable,
                GError **error, bool step_done = false);

// Runs `step` as far as it goes without waiting. False with
// G_IO_ERROR_WOULD_BLOCK (and *out_wait set) when it must wait. `step_done`
// as for drive_sync.
bool drive_nonblocking(Transport &transport, StepRef step, Wait *out_wait, GError **error,
                       bool step_done = false);

// What a step's result means for its operation. The transport is told of
// the step (after_step) here; shared by the driver's loop and first_step.
enum class StepOutcome {
  Complete,  // done, nothing left to flush
  Failed,    // *error is set (the alert GnuTLS queued was pushed, best effort)
  Flush,     // done; its output is left to flush
  Again,     // GnuTLS must be called again once the transport is ready
  Suspended, // the step waits for application code (see HandshakeFiber)
};

inline StepOutcome conclude_step(Transport &transport, StepResult result, GError **error)
{
  transport.after_step();
  switch (result) {
  case StepResult::Done:
    return transport.has_pending_output() ? StepOutcome::Flush : StepOutcome::Complete;
  case StepResult::Failed:
    flush_best_effort(transport);
    return StepOutcome::Failed;
  case StepResult::Suspended:
    return StepOutcome::Suspended;
  case StepResult::Again:
    if (!transport.has_io_error())
      return StepOutcome::Again;
    // A recoverable transport error (timeout, cancellation) GnuTLS saw as "again".
    g_propagate_error(error, transport.take_io_error());
    return StepOutcome::Failed;
  }
  return StepOutcome::Again;
}

// Runs `step` once in the caller's frame, as the driver's first pass would,
// when nothing is queued ahead of it and `cancellable` has not fired (else
// Again, having done nothing). A record on an established connection, the
// usual operation, is one step: done here it skips the driver's loop and the
// call through StepRef, which measurably costs per datagram
// (docs/performance.md). After Flush, drive with step_done; after Again,
// drive as usual.
template <typename F>
StepOutcome first_step(Transport &transport, F &step, GCancellable *cancellable, GError **error)
{
  if (transport.has_pending_output() || (cancellable && g_cancellable_is_cancelled(cancellable)))
    return StepOutcome::Again;
  return conclude_step(transport, step(error), error);
}

// Runs `step` asynchronously on the thread-default main context; `done` is
// called exactly once, from that context, never from inside this call
// (unless the run is abandoned, see abandon_async).
// `done` receives the error (owned by the callee) or nullptr on success.
// A step may return StepResult::Suspended when it runs on `fiber`: the run
// then waits on the fiber's wake source (and the cancellable) and calls the
// step again, first thing, when it dispatches; the step itself decides what
// a cancellation means for the suspended work.
using DoneFn = std::function<void(GError *error)>;
class AsyncRun;
// With `step_now` the first pass runs inside this call (`done` is still
// called later, from the context).
// `context` (null: the thread-default one) is where it runs.
AsyncRun *drive_async(Transport &transport, Step step, int io_priority, GCancellable *cancellable,
                      DoneFn done, HandshakeFiber *fiber = nullptr, bool step_now = false,
                      GMainContext *context = nullptr);

// What abandon_async did.
enum class Abandon {
  Taken,     // the run is gone where it waited; `done` will never be called
  Finished,  // the run had ended already: `done` was called now, in this call
  Busy,      // its step is executing or suspended: nothing changed
};

// Stops `run` where it waits, so that the caller can drive its step itself.
// Only from a thread that owns the run's main context
// (g_main_context_acquire), so that the run cannot be dispatching meanwhile.
Abandon abandon_async(AsyncRun *run);

// Schedules the flush of output a completed nonblocking operation left
// buffered, on the thread-default main context; `keepalive` is held until it
// is done.
void flush_in_background(Transport &transport, GObject *keepalive);

}  // namespace gtg
