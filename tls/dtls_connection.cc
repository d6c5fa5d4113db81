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

static void gtg_dtls_client_connection_init(GtgDtlsClientConnection *) {}
static void gtg_dtls_client_connection_class_init(GtgDtlsClientConnectionClass *) {}
static void gtg_dtls_server_connection_init(GtgDtlsServerConnection *) {}
static void gtg_dtls_server_connection_class_init(GtgDtlsServerConnectionClass *) {}
