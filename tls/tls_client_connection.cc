// GtgTlsClientConnection: GTlsClientConnection on a ConnectionCore in the
// client role. Adds the client properties; everything else is the shared
// GtgTlsConnection.
#include "connection_properties.h"
#include "connection_types.h"
#include "gtype_macros.h"
#include "tls_connection.h"

enum {
  PROP_0,
  PROP_SERVER_IDENTITY,
  PROP_VALIDATION_FLAGS,
  PROP_USE_SSL3,
  PROP_ACCEPTED_CAS,
  PROP_PSK_IDENTITY,
  PROP_PSK_KEY,
  N_PROPS,
};

static GParamSpec *props[N_PROPS];

struct GtgTlsClientConnection {
  GtgTlsConnection parent_instance;
};

struct GtgTlsClientConnectionClass {
  GtgTlsConnectionClass parent_class;
};

static void gtg_tls_client_connection_interface_init(GTlsClientConnectionInterface *iface) noexcept;

GTG_DEFINE_TYPE(GtgTlsClientConnection, gtg_tls_client_connection, GTG_TYPE_TLS_CONNECTION, 0,
                GTG_TYPE_NAME("TlsClientConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_TLS_CLIENT_CONNECTION,
                                      gtg_tls_client_connection_interface_init))

static gtg::ConnectionCore &core_of(gpointer object)
{
  return *gtg::tls_connection_core(object);
}

static void gtg_tls_client_connection_init(GtgTlsClientConnection *) {}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::get_shared_property(*gtg::tls_connection_core(object), pspec, value))
    return;
  gtg::ConnectionCore &core = core_of(object);
  switch (prop_id) {
  case PROP_SERVER_IDENTITY:
    g_value_set_object(value, core.server_identity.get());
    break;
  case PROP_VALIDATION_FLAGS:
    g_value_set_flags(value, core.validation_flags);
    break;
  case PROP_USE_SSL3:
    g_value_set_boolean(value, FALSE);
    break;
  case PROP_ACCEPTED_CAS:
    g_value_set_pointer(value, core.accepted_cas());
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::set_shared_property(*gtg::tls_connection_core(object), pspec, value))
    return;
  gtg::ConnectionCore &core = core_of(object);
  switch (prop_id) {
  case PROP_SERVER_IDENTITY:
    core.server_identity =
        gtg::Ref<GSocketConnectable>::retain(G_SOCKET_CONNECTABLE(g_value_get_object(value)));
    break;
  case PROP_VALIDATION_FLAGS:
    core.validation_flags = static_cast<GTlsCertificateFlags>(g_value_get_flags(value));
    break;
  case PROP_USE_SSL3:
    break;  // SSL 3.0 is gone; the property is accepted and ignored, as GIO documents
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void copy_session_state(GTlsClientConnection *conn, GTlsClientConnection *source) noexcept
{
  gtg::ConnectionCore *from = gtg::tls_connection_core(source);
  if (from)
    core_of(conn).copy_session_state_from(*from);
}

static void gtg_tls_client_connection_interface_init(GTlsClientConnectionInterface *iface) noexcept
{
  iface->copy_session_state = copy_session_state;
}

static void gtg_tls_client_connection_class_init(GtgTlsClientConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  g_object_class_override_property(object_class, PROP_SERVER_IDENTITY, "server-identity");
  g_object_class_override_property(object_class, PROP_VALIDATION_FLAGS, "validation-flags");
  g_object_class_override_property(object_class, PROP_USE_SSL3, "use-ssl3");
  g_object_class_override_property(object_class, PROP_ACCEPTED_CAS, "accepted-cas");
  // Ours, documented in docs/user-guide.md ("Beyond GIO's API").
  props[PROP_PSK_IDENTITY] = gtg::psk_identity_param_spec();
  props[PROP_PSK_KEY] = gtg::psk_key_param_spec();
  g_object_class_install_property(object_class, PROP_PSK_IDENTITY, props[PROP_PSK_IDENTITY]);
  g_object_class_install_property(object_class, PROP_PSK_KEY, props[PROP_PSK_KEY]);
  gtg::define_psk_required_signal(G_TYPE_FROM_CLASS(klass));
}
