#include "connection_properties.h"

#include <cstring>

namespace gtg {

namespace {

bool is(GParamSpec *pspec, const char *name)
{
  return strcmp(pspec->name, name) == 0;
}

}  // namespace

bool get_shared_property(ConnectionCore &core, GParamSpec *pspec, GValue *value)
{
  if (is(pspec, "certificate")) {
    g_value_set_object(value, core.certificate.get());
  } else if (is(pspec, "database")) {
    g_value_set_object(value, core.database.get());
  } else if (is(pspec, "interaction")) {
    g_value_set_object(value, core.interaction.get());
  } else if (is(pspec, "peer-certificate")) {
    g_value_set_object(value, core.peer_certificate());
  } else if (is(pspec, "peer-certificate-errors")) {
    g_value_set_flags(value, core.peer_certificate_errors());
  } else if (is(pspec, "require-close-notify")) {
    g_value_set_boolean(value, core.require_close_notify);
  } else if (is(pspec, "rehandshake-mode")) {
    g_value_set_enum(value, core.rehandshake_mode);
  } else if (is(pspec, "advertised-protocols")) {
    if (core.advertised_protocols.empty()) {
      g_value_set_boxed(value, nullptr);
    } else {
      GStrvBuilder *b = g_strv_builder_new();
      for (const std::string &p : core.advertised_protocols)
        g_strv_builder_add(b, p.c_str());
      g_value_take_boxed(value, g_strv_builder_end(b));
      g_strv_builder_unref(b);
    }
  } else if (is(pspec, "negotiated-protocol")) {
    g_value_set_string(value, core.negotiated_protocol());
  } else if (is(pspec, "protocol-version")) {
    g_value_set_enum(value, core.protocol_version());
  } else if (is(pspec, "ciphersuite-name")) {
    g_value_set_string(value, core.ciphersuite_name());
  } else if (is(pspec, "session-resumed")) {
    g_value_set_boolean(value, core.session_resumed());
  } else {
    return false;
  }
  return true;
}

bool set_shared_property(ConnectionCore &core, GParamSpec *pspec, const GValue *value)
{
  if (is(pspec, "certificate")) {
    core.set_certificate(G_TLS_CERTIFICATE(g_value_get_object(value)));
  } else if (is(pspec, "database")) {
    core.database = Ref<GTlsDatabase>::retain(G_TLS_DATABASE(g_value_get_object(value)));
  } else if (is(pspec, "interaction")) {
    core.interaction = Ref<GTlsInteraction>::retain(G_TLS_INTERACTION(g_value_get_object(value)));
  } else if (is(pspec, "require-close-notify")) {
    core.require_close_notify = g_value_get_boolean(value);
  } else if (is(pspec, "rehandshake-mode")) {
    G_GNUC_BEGIN_IGNORE_DEPRECATIONS
    core.rehandshake_mode = static_cast<GTlsRehandshakeMode>(g_value_get_enum(value));
    G_GNUC_END_IGNORE_DEPRECATIONS
  } else if (is(pspec, "advertised-protocols")) {
    core.advertised_protocols.clear();
    auto **protocols = static_cast<char **>(g_value_get_boxed(value));
    for (char **p = protocols; p && *p; p++)
      core.advertised_protocols.emplace_back(*p);
  } else {
    return false;
  }
  return true;
}

GParamSpec *session_resumed_param_spec()
{
  return g_param_spec_boolean("session-resumed", nullptr, nullptr, FALSE,
                              static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

}  // namespace gtg
