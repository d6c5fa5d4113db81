#include "handshake_fiber.h"

#include "driver.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <mutex>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define GTG_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GTG_FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GTG_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GTG_FIBER_TSAN 1
#endif
#endif

#ifdef GTG_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GTG_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace gtg {

namespace {

// GnuTLS's handshake needs a few tens of KiB; application code runs here
// too (accept-certificate handlers, the interaction's async calls, which
// may be a language binding's). The mapping is reserved, not committed:
// only the pages a step touches cost memory.
#if defined(GTG_FIBER_ASAN) || defined(GTG_FIBER_TSAN)
constexpr size_t kStackSize = 4 * 1024 * 1024;
#else
constexpr size_t kStackSize = 1024 * 1024;
#endif
constexpr size_t kPooledStacks = 4;  // per thread

thread_local HandshakeFiber *current_fiber = nullptr;
thread_local HandshakeFiber *starting_fiber = nullptr;

}  // namespace

// One mapping with a guard page below the stack.
class FiberStack {
public:
  static std::unique_ptr<FiberStack> make()
  {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void *map = mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
      return nullptr;
    mprotect(map, page, PROT_NONE);
    return std::unique_ptr<FiberStack>(new FiberStack(map, page));
  }
  ~FiberStack() { munmap(map_, kStackSize + guard_); }
  void *bottom() const { return static_cast<char *>(map_) + guard_; }
  size_t size() const { return kStackSize; }

private:
  FiberStack(void *map, size_t guard) : map_(map), guard_(guard) {}
  void *map_;
  size_t guard_;
};

namespace {

struct StackPool {
  std::vector<std::unique_ptr<FiberStack>> free;
};
thread_local StackPool stack_pool;

std::unique_ptr<FiberStack> take_stack()
{
  if (!stack_pool.free.empty()) {
    std::unique_ptr<FiberStack> stack = std::move(stack_pool.free.back());
    stack_pool.free.pop_back();
    return stack;
  }
  return FiberStack::make();
}

void give_back_stack(std::unique_ptr<FiberStack> stack)
{
  if (stack && stack_pool.free.size() < kPooledStacks)
    stack_pool.free.push_back(std::move(stack));
}

}  // namespace

struct HandshakeFiber::Context {
  ucontext_t caller;
  ucontext_t fiber;
  std::mutex wake_mutex;  // guards wake_source_
#ifdef GTG_FIBER_ASAN
  void *caller_fake_stack = nullptr;
  void *fiber_fake_stack = nullptr;
  const void *caller_bottom = nullptr;
  size_t caller_size = 0;
#endif
#ifdef GTG_FIBER_TSAN
  void *tsan_fiber = nullptr;
  void *tsan_caller = nullptr;
#endif
};

HandshakeFiber::HandshakeFiber() : context_(std::make_unique<Context>())
{
#ifdef GTG_FIBER_TSAN
  context_->tsan_fiber = __tsan_create_fiber(0);
#endif
}

HandshakeFiber::~HandshakeFiber()
{
  // A suspended step cannot be unwound from here; the connection keeps
  // itself alive while one is (the handshake holds a reference).
  g_warn_if_fail(!suspended_.load());
  if (wake_source_) {
    g_source_destroy(wake_source_);
    g_source_unref(wake_source_);
  }
  if (error_)
    g_error_free(error_);
#ifdef GTG_FIBER_TSAN
  __tsan_destroy_fiber(context_->tsan_fiber);
#endif
}

HandshakeFiber *HandshakeFiber::current()
{
  return current_fiber;
}

void HandshakeFiber::entry() noexcept
{
  HandshakeFiber *self = starting_fiber;
  starting_fiber = nullptr;
#ifdef GTG_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->context_->caller_bottom,
                                  &self->context_->caller_size);
#endif
  self->result_ = self->fn_(self->data_, &self->error_);
  self->switch_out(true);
  // Never reached: a finished step is never switched back into.
}

void HandshakeFiber::switch_in()
{
  Context &c = *context_;
  HandshakeFiber *outer = current_fiber;
  current_fiber = this;
#ifdef GTG_FIBER_TSAN
  c.tsan_caller = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(c.tsan_fiber, 0);
#endif
#ifdef GTG_FIBER_ASAN
  __sanitizer_start_switch_fiber(&c.caller_fake_stack, stack_->bottom(), stack_->size());
#endif
  swapcontext(&c.caller, &c.fiber);
#ifdef GTG_FIBER_ASAN
  __sanitizer_finish_switch_fiber(c.caller_fake_stack, nullptr, nullptr);
#endif
  current_fiber = outer;
}

void HandshakeFiber::switch_out(bool finished)
{
  Context &c = *context_;
  finished_ = finished;
#ifdef GTG_FIBER_TSAN
  __tsan_switch_to_fiber(c.tsan_caller, 0);
#endif
#ifdef GTG_FIBER_ASAN
  __sanitizer_start_switch_fiber(finished ? nullptr : &c.fiber_fake_stack, c.caller_bottom,
                                 c.caller_size);
#endif
  swapcontext(&c.fiber, &c.caller);
#ifdef GTG_FIBER_ASAN
  __sanitizer_finish_switch_fiber(c.fiber_fake_stack, &c.caller_bottom, &c.caller_size);
#endif
}

StepResult HandshakeFiber::run(StepFn fn, void *data, GError **error)
{
  if (!suspended_) {
    stack_ = take_stack();
    if (!stack_) {
      // No memory for a stack: run on this one (application code that
      // waits then blocks, as a sync handshake would).
      return fn(data, error);
    }
    fn_ = fn;
    data_ = data;
    aborted_.store(false);
    woken_.store(false);
    getcontext(&context_->fiber);
    context_->fiber.uc_stack.ss_sp = stack_->bottom();
    context_->fiber.uc_stack.ss_size = stack_->size();
    context_->fiber.uc_link = nullptr;
    makecontext(&context_->fiber, entry, 0);
    starting_fiber = this;
  }
  suspended_.store(false);
  finished_ = false;
  switch_in();
  while (!finished_ && call_fn_) {
    // The step asked for application code to run on this stack.
    void (*fn)(void *) = std::exchange(call_fn_, nullptr);
    fn(call_data_);
    switch_in();
  }
  if (!finished_) {
    suspended_.store(true);
    return StepResult::Suspended;
  }
  give_back_stack(std::move(stack_));
  if (error_)
    g_propagate_error(error, std::exchange(error_, nullptr));
  return result_;
}

bool HandshakeFiber::suspend()
{
  g_return_val_if_fail(current_fiber == this, false);
  if (aborted_.load())
    return false;
  if (woken_.exchange(false))
    return true;
  switch_out(false);
  woken_.store(false);
  return !aborted_.load();
}

void HandshakeFiber::call_on_caller_stack(void (*fn)(void *data), void *data)
{
  g_return_if_fail(current_fiber == this);
  call_fn_ = fn;
  call_data_ = data;
  switch_out(false);
}

void HandshakeFiber::wake()
{
  woken_.store(true);
  std::lock_guard lock(context_->wake_mutex);
  if (wake_source_)
    g_source_set_ready_time(wake_source_, 0);
}

void HandshakeFiber::abort()
{
  aborted_.store(true);
  wake();
}

GSource *HandshakeFiber::create_wake_source(GCancellable *cancellable)
{
  GSource *source = plain_source_new("GioTlsGnutls handshake suspended");
  if (cancellable) {
    GSource *cancel = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancel);
    g_source_add_child_source(source, cancel);
    g_source_unref(cancel);
  }
  std::lock_guard lock(context_->wake_mutex);
  if (wake_source_)
    g_source_unref(wake_source_);
  wake_source_ = g_source_ref(source);
  if (woken_.load() || aborted_.load())
    g_source_set_ready_time(source, 0);
  return source;
}

}  // namespace gtg
