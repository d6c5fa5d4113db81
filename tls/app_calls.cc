#include "app_calls.h"

#include "database.h"
#include "handshake_fiber.h"

#include <glib/gi18n-lib.h>

#include <atomic>
#include <functional>
#include <mutex>

namespace gtg {

namespace {

// One pending async call of the application's. Shared by the suspended
// step and the completion callback: whichever lets go last frees it, so an
// answer that arrives after its handshake gave up finds it still there.
struct Awaiter {
  std::atomic<int> refs{2};
  std::mutex mutex;
  HandshakeFiber *fiber;       // guarded by mutex; null once the step gave up
  GAsyncResult *result = nullptr;  // (owned) guarded by mutex

  explicit Awaiter(HandshakeFiber *f) : fiber(f) {}
  ~Awaiter()
  {
    if (result)
      g_object_unref(result);
  }
  void unref()
  {
    if (refs.fetch_sub(1) == 1)
      delete this;
  }

  static void on_done(GObject *, GAsyncResult *res, gpointer data) noexcept
  {
    auto *self = static_cast<Awaiter *>(data);
    {
      std::lock_guard lock(self->mutex);
      self->result = G_ASYNC_RESULT(g_object_ref(res));
      if (self->fiber)
        self->fiber->wake();
    }
    self->unref();
  }
};

// Starts an async call with start(callback, data) and suspends `fiber`
// until it completes. The result (transfer full), or nullptr when the
// handshake gave up meanwhile.
GAsyncResult *await_async(HandshakeFiber *fiber,
                          const std::function<void(GAsyncReadyCallback, gpointer)> &start)
{
  auto *awaiter = new Awaiter(fiber);
  on_thread_stack([&] { start(Awaiter::on_done, awaiter); });
  for (;;) {
    GAsyncResult *result = nullptr;
    {
      std::lock_guard lock(awaiter->mutex);
      result = std::exchange(awaiter->result, nullptr);
      if (result)
        awaiter->fiber = nullptr;
    }
    if (result) {
      awaiter->unref();
      return result;
    }
    if (!fiber->suspend()) {
      {
        std::lock_guard lock(awaiter->mutex);
        awaiter->fiber = nullptr;
      }
      awaiter->unref();
      return nullptr;
    }
  }
}

void set_gave_up(GError **error)
{
  g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
}

}  // namespace

GTlsInteractionResult interaction_request_certificate(GTlsInteraction *interaction,
                                                      GTlsConnection *connection,
                                                      GCancellable *cancellable, GError **error)
{
  HandshakeFiber *fiber = HandshakeFiber::current();
  GTlsInteractionResult r = G_TLS_INTERACTION_UNHANDLED;
  if (!fiber || !G_TLS_INTERACTION_GET_CLASS(interaction)->request_certificate_async) {
    on_thread_stack([&] {
      r = g_tls_interaction_invoke_request_certificate(interaction, connection,
                                                       G_TLS_CERTIFICATE_REQUEST_NONE, cancellable,
                                                       error);
    });
    return r;
  }
  GAsyncResult *result = await_async(fiber, [&](GAsyncReadyCallback callback, gpointer data) {
    g_tls_interaction_request_certificate_async(interaction, connection,
                                                G_TLS_CERTIFICATE_REQUEST_NONE, cancellable,
                                                callback, data);
  });
  if (!result) {
    set_gave_up(error);
    return G_TLS_INTERACTION_FAILED;
  }
  on_thread_stack([&] { r = g_tls_interaction_request_certificate_finish(interaction, result, error); });
  g_object_unref(result);
  return r;
}

GTlsInteractionResult interaction_ask_password(GTlsInteraction *interaction, GTlsPassword *password,
                                               GCancellable *cancellable, GError **error)
{
  HandshakeFiber *fiber = HandshakeFiber::current();
  GTlsInteractionResult r = G_TLS_INTERACTION_UNHANDLED;
  if (!fiber || !G_TLS_INTERACTION_GET_CLASS(interaction)->ask_password_async) {
    on_thread_stack([&] {
      r = g_tls_interaction_invoke_ask_password(interaction, password, cancellable, error);
    });
    return r;
  }
  GAsyncResult *result = await_async(fiber, [&](GAsyncReadyCallback callback, gpointer data) {
    g_tls_interaction_ask_password_async(interaction, password, cancellable, callback, data);
  });
  if (!result) {
    set_gave_up(error);
    return G_TLS_INTERACTION_FAILED;
  }
  on_thread_stack([&] { r = g_tls_interaction_ask_password_finish(interaction, result, error); });
  g_object_unref(result);
  return r;
}

GTlsCertificateFlags database_verify_chain(GTlsDatabase *database, GTlsCertificate *chain,
                                           const char *purpose, GSocketConnectable *identity,
                                           GTlsInteraction *interaction, GCancellable *cancellable,
                                           GError **error)
{
  HandshakeFiber *fiber = HandshakeFiber::current();
  if (!fiber || database_is_own(database)) {
    // Ours is pure computation and may run here; another database's sync
    // verification is application code.
    GTlsCertificateFlags flags = GTlsCertificateFlags(0);
    auto verify = [&] {
      flags = g_tls_database_verify_chain(database, chain, purpose, identity, interaction,
                                          G_TLS_DATABASE_VERIFY_NONE, cancellable, error);
    };
    if (database_is_own(database))
      verify();
    else
      on_thread_stack(verify);
    return flags;
  }
  GAsyncResult *result = await_async(fiber, [&](GAsyncReadyCallback callback, gpointer data) {
    g_tls_database_verify_chain_async(database, chain, purpose, identity, interaction,
                                      G_TLS_DATABASE_VERIFY_NONE, cancellable, callback, data);
  });
  if (!result) {
    set_gave_up(error);
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  }
  GTlsCertificateFlags flags = GTlsCertificateFlags(0);
  on_thread_stack([&] { flags = g_tls_database_verify_chain_finish(database, result, error); });
  g_object_unref(result);
  return flags;
}

}  // namespace gtg
