// Placeholder DTLS connection types until the DTLS issue lands: they exist
// so that the backend can name them, and construction fails with
// G_IO_ERROR_NOT_SUPPORTED rather than claiming to work.
#include "connection_types.h"
#include "gtype_macros.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>

struct GtgDtlsPlaceholder {
  GObject parent_instance;
};
struct GtgDtlsPlaceholderClass {
  GObjectClass parent_class;
};

static gboolean placeholder_init(GInitable *, GCancellable *, GError **error) noexcept
{
  g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                      _("DTLS is not implemented yet by this TLS backend"));
  return FALSE;
}

static void initable_init(GInitableIface *iface) noexcept
{
  iface->init = placeholder_init;
}

using GtgDtlsClientConnection = GtgDtlsPlaceholder;
using GtgDtlsClientConnectionClass = GtgDtlsPlaceholderClass;
using GtgDtlsServerConnection = GtgDtlsPlaceholder;
using GtgDtlsServerConnectionClass = GtgDtlsPlaceholderClass;

GTG_DEFINE_TYPE(GtgDtlsClientConnection, gtg_dtls_client_connection, G_TYPE_OBJECT, 0,
                GTG_TYPE_NAME("DtlsClientConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, initable_init))
GTG_DEFINE_TYPE(GtgDtlsServerConnection, gtg_dtls_server_connection, G_TYPE_OBJECT, 0,
                GTG_TYPE_NAME("DtlsServerConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, initable_init))

// The construct properties g_dtls_client_connection_new and
// g_dtls_server_connection_new pass; accepted so that construction reaches
// GInitable::init and fails there with a clear error.
static void placeholder_set_property(GObject *, guint, const GValue *, GParamSpec *) noexcept {}
static void placeholder_get_property(GObject *, guint, GValue *value, GParamSpec *) noexcept
{
  g_value_reset(value);
}

static void install_constructor_properties(GObjectClass *object_class)
{
  object_class->set_property = placeholder_set_property;
  object_class->get_property = placeholder_get_property;
  auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(object_class, 1,
      g_param_spec_object("base-socket", nullptr, nullptr, G_TYPE_DATAGRAM_BASED, flags));
  g_object_class_install_property(object_class, 2,
      g_param_spec_object("certificate", nullptr, nullptr, G_TYPE_TLS_CERTIFICATE, flags));
  g_object_class_install_property(object_class, 3,
      g_param_spec_object("server-identity", nullptr, nullptr, G_TYPE_SOCKET_CONNECTABLE, flags));
}

static void gtg_dtls_client_connection_init(GtgDtlsClientConnection *) {}
static void gtg_dtls_client_connection_class_init(GtgDtlsClientConnectionClass *klass)
{
  install_constructor_properties(G_OBJECT_CLASS(klass));
}
static void gtg_dtls_server_connection_init(GtgDtlsServerConnection *) {}
static void gtg_dtls_server_connection_class_init(GtgDtlsServerConnectionClass *klass)
{
  install_constructor_properties(G_OBJECT_CLASS(klass));
}
