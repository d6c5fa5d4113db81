#include "tls_connection.h"

#include "database.h"
#include "connection_properties.h"
#include "gtype_macros.h"
#include "record_transport.h"

#include <glib/gi18n-lib.h>

enum {
  PROP_0,
  PROP_BASE_IO_STREAM,
  PROP_CERTIFICATE,
  PROP_DATABASE,
  PROP_USE_SYSTEM_CERTDB,
  PROP_INTERACTION,
  PROP_PEER_CERTIFICATE,
  PROP_PEER_CERTIFICATE_ERRORS,
  PROP_REQUIRE_CLOSE_NOTIFY,
  PROP_REHANDSHAKE_MODE,
  PROP_ADVERTISED_PROTOCOLS,
  PROP_NEGOTIATED_PROTOCOL,
  PROP_PROTOCOL_VERSION,
  PROP_CIPHERSUITE_NAME,
  PROP_SESSION_RESUMED,
  PROP_MIN_PROTOCOL_VERSION,
  PROP_MAX_PROTOCOL_VERSION,
  PROP_CIPHERSUITES,
  PROP_PRIORITY,
  N_PROPS,
};

// Our own properties (the others override GIO's interface properties).
static GParamSpec *props[N_PROPS];

static void gtg_tls_connection_initable_init(GInitableIface *iface) noexcept;

GTG_DEFINE_TYPE(GtgTlsConnection, gtg_tls_connection, G_TYPE_TLS_CONNECTION, G_TYPE_FLAG_ABSTRACT,
                GTG_TYPE_NAME("TlsConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, gtg_tls_connection_initable_init))

namespace gtg {

ConnectionCore *tls_connection_core(gpointer object)
{
  if (!G_TYPE_CHECK_INSTANCE_TYPE(object, GTG_TYPE_TLS_CONNECTION))
    return nullptr;
  return reinterpret_cast<GtgTlsConnection *>(object)->core;
}

}  // namespace gtg

static GtgTlsConnection *self_of(gpointer object)
{
  return reinterpret_cast<GtgTlsConnection *>(object);
}

static void gtg_tls_connection_init(GtgTlsConnection *self)
{
  self->core = new gtg::ConnectionCore(G_OBJECT(self), gtg::Role::Client, false);
  self->use_system_certdb = TRUE;
  self->core->database = gtg::Ref<GTlsDatabase>::adopt(gtg::database_get_system());
}

static void set_base_io_stream(GtgTlsConnection *self, GIOStream *base)
{
  g_return_if_fail(self->base_io_stream == nullptr);
  self->base_io_stream = G_IO_STREAM(g_object_ref(base));
  self->core->set_transport(std::make_unique<gtg::StreamTransport>(base));
}

static void gtg_tls_connection_get_property(GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec) noexcept
{
  GtgTlsConnection *self = self_of(object);
  gtg::ConnectionCore &core = *self->core;
  if (gtg::get_shared_property(core, pspec, value))
    return;
  switch (prop_id) {
  case PROP_BASE_IO_STREAM:
    g_value_set_object(value, self->base_io_stream);
    break;
  case PROP_USE_SYSTEM_CERTDB:
    g_value_set_boolean(value, self->use_system_certdb);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gtg_tls_connection_set_property(GObject *object, guint prop_id, const GValue *value,
                                            GParamSpec *pspec) noexcept
{
  GtgTlsConnection *self = self_of(object);
  gtg::ConnectionCore &core = *self->core;
  if (gtg::set_shared_property(core, pspec, value))
    return;
  switch (prop_id) {
  case PROP_BASE_IO_STREAM:
    if (g_value_get_object(value))
      set_base_io_stream(self, G_IO_STREAM(g_value_get_object(value)));
    break;
  case PROP_USE_SYSTEM_CERTDB: {
    // Deprecated alias: TRUE means the default database, FALSE none.
    gboolean use = g_value_get_boolean(value);
    if (use == self->use_system_certdb)
      break;
    self->use_system_certdb = use;
    core.database = use ? gtg::Ref<GTlsDatabase>::adopt(gtg::database_get_system()) : nullptr;
    g_object_notify(object, "database");
    break;
  }
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static gboolean gtg_tls_connection_initable_init_fn(GInitable *initable, GCancellable *,
                                                    GError **error) noexcept
{
  GtgTlsConnection *self = self_of(initable);
  if (!self->base_io_stream) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        _("A TLS connection needs a base stream"));
    return FALSE;
  }
  return TRUE;
}

static void gtg_tls_connection_initable_init(GInitableIface *iface) noexcept
{
  iface->init = gtg_tls_connection_initable_init_fn;
}

static void gtg_tls_connection_dispose(GObject *object) noexcept
{
  GtgTlsConnection *self = self_of(object);
  if (self->tls_input)
    gtg_tls_input_stream_detach(self->tls_input);
  if (self->tls_output)
    gtg_tls_output_stream_detach(self->tls_output);
  g_clear_object(&self->tls_input);
  g_clear_object(&self->tls_output);
  G_OBJECT_CLASS(gtg_tls_connection_parent_class)->dispose(object);
}

static void gtg_tls_connection_finalize(GObject *object) noexcept
{
  GtgTlsConnection *self = self_of(object);
  delete self->core;
  g_clear_object(&self->base_io_stream);
  G_OBJECT_CLASS(gtg_tls_connection_parent_class)->finalize(object);
}

static GInputStream *get_input_stream(GIOStream *stream) noexcept
{
  GtgTlsConnection *self = self_of(stream);
  if (!self->tls_input)
    self->tls_input = gtg_tls_input_stream_new(self);
  return self->tls_input;
}

static GOutputStream *get_output_stream(GIOStream *stream) noexcept
{
  GtgTlsConnection *self = self_of(stream);
  if (!self->tls_output)
    self->tls_output = gtg_tls_output_stream_new(self);
  return self->tls_output;
}

// A close_notify that cannot be delivered because the peer already went
// away does not make close fail: the connection is closed either way.
static bool bye_failure_matters(const GError *error)
{
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches(error, G_IO_ERROR, G_IO_ERROR_FAILED);
}

static gboolean close_fn(GIOStream *stream, GCancellable *cancellable, GError **error) noexcept
{
  GtgTlsConnection *self = self_of(stream);
  GError *bye_error = nullptr;
  if (!self->core->shutdown(true, true, cancellable, &bye_error) &&
      g_error_matches(bye_error, G_IO_ERROR, G_IO_ERROR_FAILED)) {
    g_propagate_error(error, bye_error);  // inside the handshake: nothing closed
    return FALSE;
  }
  self->core->mark_closed();
  gboolean ok = self->base_io_stream ? g_io_stream_close(self->base_io_stream, cancellable, error)
                                     : TRUE;
  if (bye_error && bye_failure_matters(bye_error) && ok) {
    g_propagate_error(error, bye_error);
    return FALSE;
  }
  if (bye_error) {
    g_debug("close_notify not delivered: %s", bye_error->message);
    g_error_free(bye_error);
  }
  return ok;
}

static void on_base_closed(GObject *base, GAsyncResult *result, gpointer data) noexcept
{
  GTask *task = G_TASK(data);
  GError *error = nullptr;
  auto *bye_error = static_cast<GError *>(g_task_get_task_data(task));
  if (!g_io_stream_close_finish(G_IO_STREAM(base), result, &error)) {
    g_task_return_error(task, error);
  } else if (bye_error && bye_failure_matters(bye_error)) {
    g_task_return_error(task, g_error_copy(bye_error));
  } else {
    g_task_return_boolean(task, TRUE);
  }
  g_object_unref(task);
}

static void close_async(GIOStream *stream, int io_priority, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data) noexcept
{
  GtgTlsConnection *self = self_of(stream);
  GTask *task = g_task_new(stream, cancellable, callback, user_data);
  g_task_set_source_tag(task, reinterpret_cast<gpointer>(close_async));
  self->core->shutdown_async(true, true, io_priority, cancellable, [self, task, io_priority,
                                                                   cancellable](GError *error) {
    self->core->mark_closed();
    if (error)
      g_task_set_task_data(task, error, reinterpret_cast<GDestroyNotify>(g_error_free));
    g_io_stream_close_async(self->base_io_stream, io_priority, cancellable, on_base_closed, task);
  });
}

static gboolean close_finish(GIOStream *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean handshake(GTlsConnection *conn, GCancellable *cancellable, GError **error) noexcept
{
  return self_of(conn)->core->handshake(cancellable, error);
}

static void handshake_async(GTlsConnection *conn, int io_priority, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) noexcept
{
  self_of(conn)->core->handshake_async(io_priority, cancellable, callback, user_data,
                                       reinterpret_cast<gpointer>(handshake_async));
}

static gboolean handshake_finish(GTlsConnection *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean get_binding_data(GTlsConnection *conn, GTlsChannelBindingType type,
                                 GByteArray *data, GError **error) noexcept
{
  return self_of(conn)->core->get_channel_binding_data(type, data, error);
}

static const char *get_negotiated_protocol(GTlsConnection *conn) noexcept
{
  return self_of(conn)->core->negotiated_protocol();
}

static void gtg_tls_connection_class_init(GtgTlsConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS(klass);
  GTlsConnectionClass *tls_class = G_TLS_CONNECTION_CLASS(klass);

  object_class->get_property = gtg_tls_connection_get_property;
  object_class->set_property = gtg_tls_connection_set_property;
  object_class->dispose = gtg_tls_connection_dispose;
  object_class->finalize = gtg_tls_connection_finalize;

  stream_class->get_input_stream = get_input_stream;
  stream_class->get_output_stream = get_output_stream;
  stream_class->close_fn = close_fn;
  stream_class->close_async = close_async;
  stream_class->close_finish = close_finish;

  tls_class->handshake = handshake;
  tls_class->handshake_async = handshake_async;
  tls_class->handshake_finish = handshake_finish;
  tls_class->get_binding_data = get_binding_data;
  tls_class->get_negotiated_protocol = get_negotiated_protocol;

  g_object_class_override_property(object_class, PROP_BASE_IO_STREAM, "base-io-stream");
  g_object_class_override_property(object_class, PROP_CERTIFICATE, "certificate");
  g_object_class_override_property(object_class, PROP_DATABASE, "database");
  g_object_class_override_property(object_class, PROP_USE_SYSTEM_CERTDB, "use-system-certdb");
  g_object_class_override_property(object_class, PROP_INTERACTION, "interaction");
  g_object_class_override_property(object_class, PROP_PEER_CERTIFICATE, "peer-certificate");
  g_object_class_override_property(object_class, PROP_PEER_CERTIFICATE_ERRORS,
                                   "peer-certificate-errors");
  g_object_class_override_property(object_class, PROP_REQUIRE_CLOSE_NOTIFY, "require-close-notify");
  g_object_class_override_property(object_class, PROP_REHANDSHAKE_MODE, "rehandshake-mode");
  g_object_class_override_property(object_class, PROP_ADVERTISED_PROTOCOLS, "advertised-protocols");
  g_object_class_override_property(object_class, PROP_NEGOTIATED_PROTOCOL, "negotiated-protocol");
  g_object_class_override_property(object_class, PROP_PROTOCOL_VERSION, "protocol-version");
  g_object_class_override_property(object_class, PROP_CIPHERSUITE_NAME, "ciphersuite-name");

  // Ours, documented in docs/user-guide.md.
  props[PROP_SESSION_RESUMED] = gtg::session_resumed_param_spec();
  props[PROP_MIN_PROTOCOL_VERSION] = gtg::min_protocol_version_param_spec();
  props[PROP_MAX_PROTOCOL_VERSION] = gtg::max_protocol_version_param_spec();
  props[PROP_CIPHERSUITES] = gtg::ciphersuites_param_spec();
  props[PROP_PRIORITY] = gtg::priority_param_spec();
  for (guint id = PROP_SESSION_RESUMED; id < N_PROPS; id++)
    g_object_class_install_property(object_class, id, props[id]);
}
