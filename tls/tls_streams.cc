// The input and output streams of a GtgTlsConnection.
//
// Both are pollable (GIO's default async read/write then uses the pollable
// path, so no thread is ever involved) and do not keep their connection
// alive: the connection detaches them when it is disposed, and a stream that
// outlives its connection fails with G_IO_ERROR_CLOSED instead of touching
// freed memory.
//
// Each call takes a reference to the connection for its duration. It does so
// under a lock of the stream's own (ConnectionLink), not through a GWeakRef:
// in GLib 2.74 every g_weak_ref_get() takes one process-wide lock, so a
// reader thread and a writer thread (of any two connections) made its cache
// line bounce between them on every record (about 1% of a bulk transfer's
// time). A call that takes its reference while the connection is being
// disposed runs on a connection whose streams are detached and which
// dispose closes, as a close from another thread during an operation does;
// the connection is finalized only after the call has dropped the reference.
#include "gtype_macros.h"
#include "tls_connection.h"

#include <glib/gi18n-lib.h>

#include <mutex>
#include <new>

namespace {

// A stream's pointer to its connection, cleared when the connection is
// disposed.
class ConnectionLink {
public:
  // A strong reference to the connection (nullptr once detached).
  GtgTlsConnection *take()
  {
    std::lock_guard lock(mutex_);
    return conn_ ? static_cast<GtgTlsConnection *>(g_object_ref(conn_)) : nullptr;
  }
  void set(GtgTlsConnection *conn)
  {
    std::lock_guard lock(mutex_);
    conn_ = conn;
  }

private:
  std::mutex mutex_;
  GtgTlsConnection *conn_ = nullptr;  // (unowned) guarded by mutex_
};

}  // namespace

struct GtgTlsInputStream {
  GInputStream parent_instance;
  ConnectionLink link;  // constructed in _init, destroyed in finalize
};
struct GtgTlsInputStreamClass {
  GInputStreamClass parent_class;
};
struct GtgTlsOutputStream {
  GOutputStream parent_instance;
  ConnectionLink link;  // constructed in _init, destroyed in finalize
};
struct GtgTlsOutputStreamClass {
  GOutputStreamClass parent_class;
};

static void input_pollable_init(GPollableInputStreamInterface *iface) noexcept;
static void output_pollable_init(GPollableOutputStreamInterface *iface) noexcept;

GTG_DEFINE_TYPE(GtgTlsInputStream, gtg_tls_input_stream, G_TYPE_INPUT_STREAM, 0,
                GTG_TYPE_NAME("TlsInputStream"),
                G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM, input_pollable_init))
GTG_DEFINE_TYPE(GtgTlsOutputStream, gtg_tls_output_stream, G_TYPE_OUTPUT_STREAM, 0,
                GTG_TYPE_NAME("TlsOutputStream"),
                G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_OUTPUT_STREAM, output_pollable_init))

namespace {

// The connection of a stream, held for the duration of one call.
class ConnectionHold {
public:
  explicit ConnectionHold(ConnectionLink *link) : conn_(link->take()) {}
  ~ConnectionHold() { if (conn_) g_object_unref(conn_); }
  ConnectionHold(const ConnectionHold &) = delete;
  ConnectionHold &operator=(const ConnectionHold &) = delete;

  // The core, or nullptr with G_IO_ERROR_CLOSED set.
  gtg::ConnectionCore *core(GError **error) const
  {
    if (!conn_) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("Connection is closed"));
      return nullptr;
    }
    return conn_->core;
  }
  GtgTlsConnection *connection() const { return conn_; }

private:
  GtgTlsConnection *conn_;
};

}  // namespace

// ----- Input -----

static void gtg_tls_input_stream_init(GtgTlsInputStream *self)
{
  new (&self->link) ConnectionLink();
}

static void input_finalize(GObject *object) noexcept
{
  reinterpret_cast<GtgTlsInputStream *>(object)->link.~ConnectionLink();
  G_OBJECT_CLASS(gtg_tls_input_stream_parent_class)->finalize(object);
}

static ConnectionLink *input_ref(gpointer stream)
{
  return &reinterpret_cast<GtgTlsInputStream *>(stream)->link;
}

static gssize input_read(GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                         GError **error) noexcept
{
  ConnectionHold hold(input_ref(stream));
  gtg::ConnectionCore *core = hold.core(error);
  return core ? core->read(buffer, count, true, cancellable, error) : -1;
}

static gboolean input_close(GInputStream *stream, GCancellable *cancellable, GError **error) noexcept
{
  ConnectionHold hold(input_ref(stream));
  if (!hold.connection())
    return TRUE;
  return hold.connection()->core->shutdown(true, false, cancellable, error);
}

// Closing only the read side sends nothing, so it completes at once.
static void input_close_async(GInputStream *stream, int, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data) noexcept
{
  GTask *task = g_task_new(stream, cancellable, callback, user_data);
  GError *error = nullptr;
  if (input_close(stream, cancellable, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
  g_object_unref(task);
}

static gboolean input_close_finish(GInputStream *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean input_can_poll(GPollableInputStream *stream) noexcept
{
  ConnectionHold hold(input_ref(stream));
  return hold.connection() && G_IS_POLLABLE_INPUT_STREAM(
                                  g_io_stream_get_input_stream(hold.connection()->base_io_stream));
}

static gboolean input_is_readable(GPollableInputStream *stream) noexcept
{
  ConnectionHold hold(input_ref(stream));
  return !hold.connection() || hold.connection()->core->is_ready(gtg::Side::Read);
}

static GSource *input_create_source(GPollableInputStream *stream, GCancellable *cancellable) noexcept
{
  ConnectionHold hold(input_ref(stream));
  GSource *child = hold.connection()
                       ? hold.connection()->core->create_source(gtg::Side::Read, cancellable)
                       : g_timeout_source_new(0);
  GSource *source = g_pollable_source_new_full(stream, child, cancellable);
  g_source_unref(child);
  return source;
}

static gssize input_read_nonblocking(GPollableInputStream *stream, void *buffer, gsize count,
                                     GError **error) noexcept
{
  ConnectionHold hold(input_ref(stream));
  gtg::ConnectionCore *core = hold.core(error);
  return core ? core->read(buffer, count, false, nullptr, error) : -1;
}

static void input_pollable_init(GPollableInputStreamInterface *iface) noexcept
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void gtg_tls_input_stream_class_init(GtgTlsInputStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = input_finalize;
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS(klass);
  input_class->read_fn = input_read;
  input_class->close_fn = input_close;
  input_class->close_async = input_close_async;
  input_class->close_finish = input_close_finish;
}

GInputStream *gtg_tls_input_stream_new(GtgTlsConnection *conn)
{
  auto *self = static_cast<GtgTlsInputStream *>(g_object_new(gtg_tls_input_stream_get_type(), nullptr));
  self->link.set(conn);
  return G_INPUT_STREAM(self);
}

void gtg_tls_input_stream_detach(GInputStream *stream)
{
  input_ref(stream)->set(nullptr);
}

// ----- Output -----

static void gtg_tls_output_stream_init(GtgTlsOutputStream *self)
{
  new (&self->link) ConnectionLink();
}

static void output_finalize(GObject *object) noexcept
{
  reinterpret_cast<GtgTlsOutputStream *>(object)->link.~ConnectionLink();
  G_OBJECT_CLASS(gtg_tls_output_stream_parent_class)->finalize(object);
}

static ConnectionLink *output_ref(gpointer stream)
{
  return &reinterpret_cast<GtgTlsOutputStream *>(stream)->link;
}

static gssize output_write(GOutputStream *stream, const void *buffer, gsize count,
                           GCancellable *cancellable, GError **error) noexcept
{
  ConnectionHold hold(output_ref(stream));
  gtg::ConnectionCore *core = hold.core(error);
  return core ? core->write(buffer, count, true, cancellable, error) : -1;
}

static gboolean output_close(GOutputStream *stream, GCancellable *cancellable, GError **error) noexcept
{
  ConnectionHold hold(output_ref(stream));
  if (!hold.connection())
    return TRUE;
  return hold.connection()->core->shutdown(false, true, cancellable, error);
}

static void output_close_async(GOutputStream *stream, int io_priority, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data) noexcept
{
  GTask *task = g_task_new(stream, cancellable, callback, user_data);
  ConnectionHold hold(output_ref(stream));
  if (!hold.connection()) {
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return;
  }
  hold.connection()->core->shutdown_async(false, true, io_priority, cancellable,
                                          [task](GError *error) {
                                            if (error)
                                              g_task_return_error(task, error);
                                            else
                                              g_task_return_boolean(task, TRUE);
                                            g_object_unref(task);
                                          });
}

static gboolean output_close_finish(GOutputStream *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean output_can_poll(GPollableOutputStream *stream) noexcept
{
  ConnectionHold hold(output_ref(stream));
  return hold.connection() && G_IS_POLLABLE_OUTPUT_STREAM(
                                  g_io_stream_get_output_stream(hold.connection()->base_io_stream));
}

static gboolean output_is_writable(GPollableOutputStream *stream) noexcept
{
  ConnectionHold hold(output_ref(stream));
  return !hold.connection() || hold.connection()->core->is_ready(gtg::Side::Write);
}

static GSource *output_create_source(GPollableOutputStream *stream, GCancellable *cancellable) noexcept
{
  ConnectionHold hold(output_ref(stream));
  GSource *child = hold.connection()
                       ? hold.connection()->core->create_source(gtg::Side::Write, cancellable)
                       : g_timeout_source_new(0);
  GSource *source = g_pollable_source_new_full(stream, child, cancellable);
  g_source_unref(child);
  return source;
}

static gssize output_write_nonblocking(GPollableOutputStream *stream, const void *buffer,
                                       gsize count, GError **error) noexcept
{
  ConnectionHold hold(output_ref(stream));
  gtg::ConnectionCore *core = hold.core(error);
  return core ? core->write(buffer, count, false, nullptr, error) : -1;
}

static void output_pollable_init(GPollableOutputStreamInterface *iface) noexcept
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void gtg_tls_output_stream_class_init(GtgTlsOutputStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = output_finalize;
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS(klass);
  output_class->write_fn = output_write;
  output_class->close_fn = output_close;
  output_class->close_async = output_close_async;
  output_class->close_finish = output_close_finish;
}

GOutputStream *gtg_tls_output_stream_new(GtgTlsConnection *conn)
{
  auto *self =
      static_cast<GtgTlsOutputStream *>(g_object_new(gtg_tls_output_stream_get_type(), nullptr));
  self->link.set(conn);
  return G_OUTPUT_STREAM(self);
}

void gtg_tls_output_stream_detach(GOutputStream *stream)
{
  output_ref(stream)->set(nullptr);
}
