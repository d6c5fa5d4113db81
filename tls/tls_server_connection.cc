// GtgTlsServerConnection: GTlsServerConnection on a ConnectionCore in the
// server role. Adds `authentication-mode`; everything else is the shared
// GtgTlsConnection.
#include "connection_properties.h"
#include "connection_types.h"
#include "gtype_macros.h"
#include "tls_connection.h"

enum {
  PROP_0,
  PROP_AUTHENTICATION_MODE,
  PROP_PSK_IDENTITY_HINT,
  N_PROPS,
};

static GParamSpec *props[N_PROPS];

struct GtgTlsServerConnection {
  GtgTlsConnection parent_instance;
};

struct GtgTlsServerConnectionClass {
  GtgTlsConnectionClass parent_class;
};

GTG_DEFINE_TYPE(GtgTlsServerConnection, gtg_tls_server_connection, GTG_TYPE_TLS_CONNECTION, 0,
                GTG_TYPE_NAME("TlsServerConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_TLS_SERVER_CONNECTION, nullptr))

static void gtg_tls_server_connection_init(GtgTlsServerConnection *self)
{
  gtg::tls_connection_core(self)->set_role(gtg::Role::Server);
}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::get_shared_property(*gtg::tls_connection_core(object), pspec, value))
    return;
  switch (prop_id) {
  case PROP_AUTHENTICATION_MODE:
    g_value_set_enum(value, gtg::tls_connection_core(object)->authentication_mode);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::set_shared_property(*gtg::tls_connection_core(object), pspec, value))
    return;
  switch (prop_id) {
  case PROP_AUTHENTICATION_MODE:
    gtg::tls_connection_core(object)->authentication_mode =
        static_cast<GTlsAuthenticationMode>(g_value_get_enum(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gtg_tls_server_connection_class_init(GtgTlsServerConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  g_object_class_override_property(object_class, PROP_AUTHENTICATION_MODE, "authentication-mode");
  // Ours, documented in docs/user-guide.md ("Beyond GIO's API").
  props[PROP_PSK_IDENTITY_HINT] = gtg::psk_identity_hint_param_spec();
  g_object_class_install_property(object_class, PROP_PSK_IDENTITY_HINT, props[PROP_PSK_IDENTITY_HINT]);
  gtg::define_psk_lookup_signal(G_TYPE_FROM_CLASS(klass));
}
