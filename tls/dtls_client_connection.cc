// GtgDtlsClientConnection: GDtlsClientConnection on a GtgDtlsConnection in
// the client role; adds the client properties.
#include "connection_properties.h"
#include "connection_types.h"
#include "dtls_connection.h"
#include "gtype_macros.h"

enum {
  PROP_0,
  PROP_SERVER_IDENTITY,
  PROP_VALIDATION_FLAGS,
  PROP_ACCEPTED_CAS,
  PROP_PSK_IDENTITY,
  PROP_PSK_KEY,
  N_PROPS,
};

static GParamSpec *props[N_PROPS];

struct GtgDtlsClientConnection {
  GtgDtlsConnection parent_instance;
};

struct GtgDtlsClientConnectionClass {
  GtgDtlsConnectionClass parent_class;
};

GTG_DEFINE_TYPE(GtgDtlsClientConnection, gtg_dtls_client_connection, GTG_TYPE_DTLS_CONNECTION, 0,
                GTG_TYPE_NAME("DtlsClientConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_DTLS_CLIENT_CONNECTION, nullptr))

static void gtg_dtls_client_connection_init(GtgDtlsClientConnection *) {}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::get_shared_property(*gtg::dtls_connection_core(object), pspec, value))
    return;
  gtg::ConnectionCore &core = *gtg::dtls_connection_core(object);
  switch (prop_id) {
  case PROP_SERVER_IDENTITY:
    g_value_set_object(value, core.server_identity.get());
    break;
  case PROP_VALIDATION_FLAGS:
    g_value_set_flags(value, core.validation_flags);
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
  if (gtg::set_shared_property(*gtg::dtls_connection_core(object), pspec, value))
    return;
  gtg::ConnectionCore &core = *gtg::dtls_connection_core(object);
  switch (prop_id) {
  case PROP_SERVER_IDENTITY:
    core.server_identity =
        gtg::Ref<GSocketConnectable>::retain(G_SOCKET_CONNECTABLE(g_value_get_object(value)));
    break;
  case PROP_VALIDATION_FLAGS:
    core.validation_flags = static_cast<GTlsCertificateFlags>(g_value_get_flags(value));
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gtg_dtls_client_connection_class_init(GtgDtlsClientConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  g_object_class_override_property(object_class, PROP_SERVER_IDENTITY, "server-identity");
  g_object_class_override_property(object_class, PROP_VALIDATION_FLAGS, "validation-flags");
  g_object_class_override_property(object_class, PROP_ACCEPTED_CAS, "accepted-cas");
  // Ours, documented in docs/user-guide.md ("Beyond GIO's API").
  props[PROP_PSK_IDENTITY] = gtg::psk_identity_param_spec();
  props[PROP_PSK_KEY] = gtg::psk_key_param_spec();
  g_object_class_install_property(object_class, PROP_PSK_IDENTITY, props[PROP_PSK_IDENTITY]);
  g_object_class_install_property(object_class, PROP_PSK_KEY, props[PROP_PSK_KEY]);
  gtg::define_psk_required_signal(G_TYPE_FROM_CLASS(klass));
}
