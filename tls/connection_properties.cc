#include "connection_properties.h"

#include <cstring>

namespace gtg {

namespace {

bool is(GParamSpec *pspec, const char *name)
{
  return strcmp(pspec->name, name) == 0;
}

// A new GStrv of `list`; nullptr when it is empty.
char **strv_of(const std::vector<std::string> &list)
{
  if (list.empty())
    return nullptr;
  GStrvBuilder *b = g_strv_builder_new();
  for (const std::string &item : list)
    g_strv_builder_add(b, item.c_str());
  char **strv = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  return strv;
}

// `list` set from the GStrv in `value`.
void set_list(std::vector<std::string> &list, const GValue *value)
{
  list.clear();
  auto **strv = static_cast<char **>(g_value_get_boxed(value));
  for (char **p = strv; p && *p; p++)
    list.emplace_back(*p);
}

constexpr auto kReadWrite = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

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
    g_value_take_boxed(value, strv_of(core.advertised_protocols));
  } else if (is(pspec, "negotiated-protocol")) {
    g_value_set_string(value, core.negotiated_protocol());
  } else if (is(pspec, "protocol-version")) {
    g_value_set_enum(value, core.protocol_version());
  } else if (is(pspec, "ciphersuite-name")) {
    g_value_set_string(value, core.ciphersuite_name());
  } else if (is(pspec, "session-resumed")) {
    g_value_set_boolean(value, core.session_resumed());
  } else if (is(pspec, "min-protocol-version")) {
    g_value_set_enum(value, core.priority_options.min_version);
  } else if (is(pspec, "max-protocol-version")) {
    g_value_set_enum(value, core.priority_options.max_version);
  } else if (is(pspec, "ciphersuites")) {
    g_value_take_boxed(value, strv_of(core.priority_options.ciphersuites));
  } else if (is(pspec, "priority")) {
    const std::string &priority = core.priority_options.priority;
    g_value_set_string(value, priority.empty() ? nullptr : priority.c_str());
  } else if (is(pspec, "psk-identity")) {
    g_value_set_string(value, core.psk_identity.empty() ? nullptr : core.psk_identity.c_str());
  } else if (is(pspec, "psk-key")) {
    g_value_set_boxed(value, core.psk_key.get());
  } else if (is(pspec, "psk-identity-hint")) {
    g_value_set_string(value, core.psk_identity_hint.empty() ? nullptr : core.psk_identity_hint.c_str());
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
    set_list(core.advertised_protocols, value);
  } else if (is(pspec, "min-protocol-version")) {
    core.priority_options.min_version = static_cast<GTlsProtocolVersion>(g_value_get_enum(value));
  } else if (is(pspec, "max-protocol-version")) {
    core.priority_options.max_version = static_cast<GTlsProtocolVersion>(g_value_get_enum(value));
  } else if (is(pspec, "ciphersuites")) {
    set_list(core.priority_options.ciphersuites, value);
  } else if (is(pspec, "priority")) {
    const char *priority = g_value_get_string(value);
    core.priority_options.priority = priority ? priority : "";
  } else if (is(pspec, "psk-identity")) {
    const char *identity = g_value_get_string(value);
    core.psk_identity = identity ? identity : "";
  } else if (is(pspec, "psk-key")) {
    auto *key = static_cast<GBytes *>(g_value_dup_boxed(value));
    core.psk_key.reset(key);
  } else if (is(pspec, "psk-identity-hint")) {
    const char *hint = g_value_get_string(value);
    core.psk_identity_hint = hint ? hint : "";
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

GParamSpec *min_protocol_version_param_spec()
{
  return g_param_spec_enum("min-protocol-version", nullptr, nullptr, G_TYPE_TLS_PROTOCOL_VERSION,
                           G_TLS_PROTOCOL_VERSION_UNKNOWN, kReadWrite);
}

GParamSpec *max_protocol_version_param_spec()
{
  return g_param_spec_enum("max-protocol-version", nullptr, nullptr, G_TYPE_TLS_PROTOCOL_VERSION,
                           G_TLS_PROTOCOL_VERSION_UNKNOWN, kReadWrite);
}

GParamSpec *ciphersuites_param_spec()
{
  return g_param_spec_boxed("ciphersuites", nullptr, nullptr, G_TYPE_STRV, kReadWrite);
}

GParamSpec *priority_param_spec()
{
  return g_param_spec_string("priority", nullptr, nullptr, nullptr, kReadWrite);
}

GParamSpec *psk_identity_param_spec()
{
  return g_param_spec_string("psk-identity", nullptr, nullptr, nullptr, kReadWrite);
}

GParamSpec *psk_key_param_spec()
{
  return g_param_spec_boxed("psk-key", nullptr, nullptr, G_TYPE_BYTES, kReadWrite);
}

GParamSpec *psk_identity_hint_param_spec()
{
  return g_param_spec_string("psk-identity-hint", nullptr, nullptr, nullptr, kReadWrite);
}

guint define_psk_required_signal(GType type)
{
  return g_signal_new("psk-required", type, G_SIGNAL_RUN_LAST, 0, nullptr, nullptr, nullptr,
                      G_TYPE_NONE, 1, G_TYPE_STRING);
}

guint define_psk_lookup_signal(GType type)
{
  return g_signal_new("psk-lookup", type, G_SIGNAL_RUN_LAST, 0, g_signal_accumulator_first_wins,
                      nullptr, nullptr, G_TYPE_BYTES, 1, G_TYPE_STRING);
}

}  // namespace gtg
