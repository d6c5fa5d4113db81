// HandshakeFiber: how an asynchronous handshake waits for application code
// without blocking or nesting the caller's main context.
//
// GnuTLS calls back into us from inside gnutls_handshake() (certificate
// retrieval, peer verification, PKCS #11 PINs), and a callback cannot return
// "again": the handshake can only be paused inside the callback. So an
// async handshake that may call application code (it has an interaction,
// or a database that is not ours) runs each of its steps on a stack of its
// own, switched on the calling thread (a stackful coroutine, ucontext). A
// callback that must wait for the application starts the application's
// async call and calls suspend(): control returns to the driver with
// StepResult::Suspended, GnuTLS's frames stay intact on the fiber's stack,
// and the caller's main context runs everything else. When the application
// answers, wake() makes the driver's wake source dispatch, and the driver
// runs the step again, which resumes the callback where it stopped.
//
// A step that does not suspend returns its stack to a small per-thread pool
// as soon as it ends, so only suspended handshakes hold one. Everything here
// runs on the thread that runs the handshake, except wake() and abort(),
// which any thread may call. The sanitizers are told of every switch
// (AddressSanitizer's and ThreadSanitizer's fiber interfaces).
#pragma once

#include "transport.h"

#include <glib.h>

#include <atomic>
#include <memory>
#include <type_traits>

namespace gtg {

class FiberStack;

class HandshakeFiber {
public:
  // A step run on the fiber: fn(data, error).
  using StepFn = StepResult (*)(void *data, GError **error);

  HandshakeFiber();
  ~HandshakeFiber();  // never while a step is suspended
  HandshakeFiber(const HandshakeFiber &) = delete;
  HandshakeFiber &operator=(const HandshakeFiber &) = delete;

  // Runs fn(data) on the fiber's stack, or, when a step is suspended,
  // resumes that step (fn and data are then ignored). Returns the step's
  // result, or Suspended when the step waits for the application: the
  // driver then waits on create_wake_source(). The step's error is moved to
  // `error`.
  StepResult run(StepFn fn, void *data, GError **error);

  // Any thread (a close aborts a suspended step).
  bool is_suspended() const { return suspended_.load(); }

  // The fiber whose step runs on this thread right now, or nullptr on an
  // ordinary stack (a sync handshake, any other call).
  static HandshakeFiber *current();

  // From inside a step: returns to run()'s caller until wake() or abort().
  // True when woken, false when aborted: the callback must then give up
  // (its handshake is being cancelled or closed).
  bool suspend();

  // From inside a step: runs fn(data) on the stack of run()'s caller (the
  // thread's own) and comes back when it returns. Application code runs
  // there, never on a fiber's stack: language runtimes (GJS's SpiderMonkey,
  // newer Pythons) check the stack pointer against the thread's stack and
  // would take a fiber's for an overflow.
  void call_on_caller_stack(void (*fn)(void *data), void *data);

  // The suspended step may go on (the application answered). Any thread.
  void wake();
  // The suspended step is to give up: its suspend() returns false. Any thread.
  void abort();
  bool aborted() const { return aborted_.load(); }

  // A source (not attached) that dispatches once wake() or abort() has been
  // called since the step suspended, or when `cancellable` fires. Its
  // callback is a GSourceFunc.
  GSource *create_wake_source(GCancellable *cancellable);

private:
  static void entry() noexcept;
  void switch_in();
  void switch_out(bool finished);

  struct Context;
  std::unique_ptr<Context> context_;   // the two machine contexts
  std::unique_ptr<FiberStack> stack_;  // while a step runs or is suspended
  StepFn fn_ = nullptr;
  void *data_ = nullptr;
  GError *error_ = nullptr;  // the step's, until run() hands it over
  StepResult result_ = StepResult::Done;
  std::atomic<bool> suspended_{false};
  bool finished_ = false;
  std::atomic<bool> woken_{false};
  std::atomic<bool> aborted_{false};
  GSource *wake_source_ = nullptr;  // (owned, nullable) of the current suspension
  void (*call_fn_)(void *) = nullptr;  // a call_on_caller_stack request
  void *call_data_ = nullptr;
};

// Runs `fn()` on the thread's own stack: directly, or, inside a fiber's
// step, through call_on_caller_stack. For every call into application code
// from a GnuTLS callback (signals, notifications, the application's async
// calls).
template <typename F>
void on_thread_stack(F &&fn)
{
  HandshakeFiber *fiber = HandshakeFiber::current();
  if (!fiber) {
    fn();
    return;
  }
  fiber->call_on_caller_stack([](void *data) { (*static_cast<std::remove_reference_t<F> *>(data))(); },
                              &fn);
}

}  // namespace gtg
