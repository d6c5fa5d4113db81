#include "backend.h"

#include "certificate.h"
#include "connection_types.h"
#include "database.h"
#include "gtype_macros.h"

struct GtgBackend {
  GObject parent_instance;
};

struct GtgBackendClass {
  GObjectClass parent_class;
};

static void gtg_backend_interface_init(GTlsBackendInterface *iface) noexcept;

GTG_DEFINE_TYPE(GtgBackend, gtg_backend, G_TYPE_OBJECT, 0, "GTlsBackend" GTG_BACKEND_CAMEL,
                G_IMPLEMENT_INTERFACE(G_TYPE_TLS_BACKEND, gtg_backend_interface_init))

static void gtg_backend_init(GtgBackend *) {}
static void gtg_backend_class_init(GtgBackendClass *) {}

static gboolean supports_tls(GTlsBackend *) noexcept { return TRUE; }
static gboolean supports_dtls(GTlsBackend *) noexcept { return TRUE; }

static GTlsDatabase *get_default_database(GTlsBackend *) noexcept
{
  return gtg::database_get_system();
}

static GType get_certificate_type() noexcept { return GTG_TYPE_CERTIFICATE; }
static GType get_file_database_type() noexcept { return GTG_TYPE_FILE_DATABASE; }
static GType get_client_connection_type() noexcept { return GTG_TYPE_TLS_CLIENT_CONNECTION; }
static GType get_server_connection_type() noexcept { return GTG_TYPE_TLS_SERVER_CONNECTION; }
static GType get_dtls_client_connection_type() noexcept { return GTG_TYPE_DTLS_CLIENT_CONNECTION; }
static GType get_dtls_server_connection_type() noexcept { return GTG_TYPE_DTLS_SERVER_CONNECTION; }

static void gtg_backend_interface_init(GTlsBackendInterface *iface) noexcept
{
  iface->supports_tls = supports_tls;
  iface->supports_dtls = supports_dtls;
  iface->get_default_database = get_default_database;
  iface->get_certificate_type = get_certificate_type;
  iface->get_file_database_type = get_file_database_type;
  iface->get_client_connection_type = get_client_connection_type;
  iface->get_server_connection_type = get_server_connection_type;
  iface->get_dtls_client_connection_type = get_dtls_client_connection_type;
  iface->get_dtls_server_connection_type = get_dtls_server_connection_type;
}
