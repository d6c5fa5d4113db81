// GtgDtlsServerConnection: GDtlsServerConnection on a GtgDtlsConnection in
// the server role; adds `authentication-mode` and ours: `cookie-exchange`
// (RFC 6347 §4.2.1 stateless cookies, on by default), `cookie-secret` (their
// secret, shared by several servers behind one address), and the PSK server
// property and signal (`psk-identity-hint`, `psk-lookup`).
#include "connection_properties.h"
#include "connection_types.h"
#include "dtls_connection.h"
#include "gtype_macros.h"

enum {
  PROP_0,
  PROP_AUTHENTICATION_MODE,
  PROP_COOKIE_EXCHANGE,
  PROP_COOKIE_SECRET,
  PROP_PSK_IDENTITY_HINT,
  N_PROPS,
};

static GParamSpec *props[N_PROPS];

struct GtgDtlsServerConnection {
  GtgDtlsConnection parent_instance;
};

struct GtgDtlsServerConnectionClass {
  GtgDtlsConnectionClass parent_class;
};

GTG_DEFINE_TYPE(GtgDtlsServerConnection, gtg_dtls_server_connection, GTG_TYPE_DTLS_CONNECTION, 0,
                GTG_TYPE_NAME("DtlsServerConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_DTLS_SERVER_CONNECTION, nullptr))

static void gtg_dtls_server_connection_init(GtgDtlsServerConnection *self)
{
  gtg::dtls_connection_core(self)->set_role(gtg::Role::Server);
}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::get_shared_property(*gtg::dtls_connection_core(object), pspec, value))
    return;
  auto *self = reinterpret_cast<GtgDtlsConnection *>(object);
  switch (prop_id) {
  case PROP_AUTHENTICATION_MODE:
    g_value_set_enum(value, self->core->authentication_mode);
    break;
  case PROP_COOKIE_EXCHANGE:
    g_value_set_boolean(value, self->cookies);
    break;
  case PROP_COOKIE_SECRET:
    g_value_set_boxed(value, self->cookie_secret);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  if (gtg::set_shared_property(*gtg::dtls_connection_core(object), pspec, value))
    return;
  auto *self = reinterpret_cast<GtgDtlsConnection *>(object);
  switch (prop_id) {
  case PROP_AUTHENTICATION_MODE:
    self->core->authentication_mode = static_cast<GTlsAuthenticationMode>(g_value_get_enum(value));
    break;
  case PROP_COOKIE_EXCHANGE:
    self->cookies = g_value_get_boolean(value);
    if (self->transport)
      self->transport->set_cookies(self->cookies);
    break;
  case PROP_COOKIE_SECRET:
    g_clear_pointer(&self->cookie_secret, g_bytes_unref);
    self->cookie_secret = static_cast<GBytes *>(g_value_dup_boxed(value));
    if (self->transport)
      self->transport->set_cookie_secret(self->cookie_secret);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gtg_dtls_server_connection_class_init(GtgDtlsServerConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  g_object_class_override_property(object_class, PROP_AUTHENTICATION_MODE, "authentication-mode");
  g_object_class_install_property(
      object_class, PROP_COOKIE_EXCHANGE,
      g_param_spec_boolean("cookie-exchange", nullptr, nullptr, TRUE,
                           static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  // Ours, documented in docs/user-guide.md ("Beyond GIO's API").
  props[PROP_COOKIE_SECRET] = g_param_spec_boxed(
      "cookie-secret", nullptr, nullptr, G_TYPE_BYTES,
      static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(object_class, PROP_COOKIE_SECRET, props[PROP_COOKIE_SECRET]);
  props[PROP_PSK_IDENTITY_HINT] = gtg::psk_identity_hint_param_spec();
  g_object_class_install_property(object_class, PROP_PSK_IDENTITY_HINT, props[PROP_PSK_IDENTITY_HINT]);
  gtg::define_psk_lookup_signal(G_TYPE_FROM_CLASS(klass));
}
