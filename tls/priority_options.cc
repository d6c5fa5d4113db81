#include "priority_options.h"

#include <glib/gi18n-lib.h>

#include <algorithm>
#include <utility>

namespace gtg {

namespace {

// One protocol version: GIO's value, GnuTLS's and its priority keyword.
struct VersionInfo {
  GTlsProtocolVersion gio;
  const char *keyword;
};

// In increasing order, per family.
constexpr VersionInfo kTlsVersions[] = {
    {G_TLS_PROTOCOL_VERSION_SSL_3_0, "VERS-SSL3.0"}, {G_TLS_PROTOCOL_VERSION_TLS_1_0, "VERS-TLS1.0"},
    {G_TLS_PROTOCOL_VERSION_TLS_1_1, "VERS-TLS1.1"}, {G_TLS_PROTOCOL_VERSION_TLS_1_2, "VERS-TLS1.2"},
    {G_TLS_PROTOCOL_VERSION_TLS_1_3, "VERS-TLS1.3"},
};
constexpr VersionInfo kDtlsVersions[] = {
    {G_TLS_PROTOCOL_VERSION_DTLS_1_0, "VERS-DTLS1.0"},
    {G_TLS_PROTOCOL_VERSION_DTLS_1_2, "VERS-DTLS1.2"},
};

bool is_dtls_version(GTlsProtocolVersion v)
{
  return v == G_TLS_PROTOCOL_VERSION_DTLS_1_0 || v == G_TLS_PROTOCOL_VERSION_DTLS_1_2;
}

bool is_tls_version(GTlsProtocolVersion v)
{
  return v >= G_TLS_PROTOCOL_VERSION_SSL_3_0 && v <= G_TLS_PROTOCOL_VERSION_TLS_1_3;
}

// The parts GnuTLS selects a suite by.
struct SuiteParts {
  gnutls_kx_algorithm_t kx = GNUTLS_KX_UNKNOWN;  // TLS 1.3 suites have none
  gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
  gnutls_mac_algorithm_t mac = GNUTLS_MAC_UNKNOWN;
  bool tls13 = false;
};

// A suite name in the form GnuTLS names suites: upper case, IANA's "_WITH"
// dropped, "SHA" as "SHA1", RC4 as ARCFOUR, and no "_SHA256" after a
// TLS 1.2 ChaCha20-Poly1305 suite.
std::string canonical_suite_name(const char *name)
{
  std::string s(name);
  for (char &c : s)
    c = g_ascii_toupper(c);
  if (!g_str_has_prefix(s.c_str(), "TLS_"))
    s = "TLS_" + s;
  bool iana = false;
  if (size_t pos = s.find("_WITH_"); pos != std::string::npos) {
    s.erase(pos, 5);
    iana = true;
  }
  if (size_t pos = s.find("_RC4_"); pos != std::string::npos)
    s.replace(pos, 5, "_ARCFOUR_");
  if (g_str_has_suffix(s.c_str(), "_SHA"))
    s += "1";
  if (iana && g_str_has_suffix(s.c_str(), "_CHACHA20_POLY1305_SHA256"))
    s.erase(s.size() - 7);
  return s;
}

bool find_suite(const std::string &name, SuiteParts *out)
{
  std::string wanted = canonical_suite_name(name.c_str());
  unsigned char id[2];
  gnutls_kx_algorithm_t kx;
  gnutls_cipher_algorithm_t cipher;
  gnutls_mac_algorithm_t mac;
  gnutls_protocol_t min_version;
  for (size_t i = 0;; i++) {
    const char *suite = gnutls_cipher_suite_info(i, id, &kx, &cipher, &mac, &min_version);
    if (!suite)
      return false;
    if (canonical_suite_name(suite) == wanted) {
      out->kx = kx;
      out->cipher = cipher;
      out->mac = mac;
      out->tls13 = min_version == GNUTLS_TLS1_3;
      return true;
    }
  }
}

// Appends ":+name" to `mods` unless `name` is there already (as a part).
void add_part(std::vector<std::string> &seen, std::string &mods, const char *name)
{
  if (!name || std::find(seen.begin(), seen.end(), name) != seen.end())
    return;
  seen.emplace_back(name);
  mods += std::string(":+") + name;
}

// G_TLS_GNUTLS_PRIORITY when it is set and valid, else nullptr.
const char *environment_priority()
{
  static const char *valid = [] () -> const char * {
    const char *env = g_getenv("G_TLS_GNUTLS_PRIORITY");
    if (!env || !*env)
      return nullptr;
    gnutls_priority_t p = nullptr;
    if (gnutls_priority_init2(&p, env, nullptr, 0) != GNUTLS_E_SUCCESS)
      return nullptr;
    gnutls_priority_deinit(p);
    return g_strdup(env);
  }();
  return valid;
}

// `base` (nullptr: GnuTLS's default) followed by `mods` (":"-separated,
// starting with ':' or empty).
int init_priority(const std::string *base, const std::string &mods, gnutls_priority_t *out,
                  const char **out_err_pos, std::string *out_text)
{
  if (base) {
    *out_text = *base + mods;
    return gnutls_priority_init2(out, out_text->c_str(), out_err_pos, 0);
  }
  if (mods.empty()) {
    *out_text = "";
    return gnutls_priority_init(out, nullptr, out_err_pos);
  }
  *out_text = mods.substr(1);
  return gnutls_priority_init2(out, out_text->c_str(), out_err_pos, GNUTLS_PRIORITY_INIT_DEF_APPEND);
}

}  // namespace

const char *protocol_version_name(GTlsProtocolVersion version)
{
  switch (version) {
  case G_TLS_PROTOCOL_VERSION_SSL_3_0: return "SSL 3.0";
  case G_TLS_PROTOCOL_VERSION_TLS_1_0: return "TLS 1.0";
  case G_TLS_PROTOCOL_VERSION_TLS_1_1: return "TLS 1.1";
  case G_TLS_PROTOCOL_VERSION_TLS_1_2: return "TLS 1.2";
  case G_TLS_PROTOCOL_VERSION_TLS_1_3: return "TLS 1.3";
  case G_TLS_PROTOCOL_VERSION_DTLS_1_0: return "DTLS 1.0";
  case G_TLS_PROTOCOL_VERSION_DTLS_1_2: return "DTLS 1.2";
  default: return "?";
  }
}

bool PriorityOptions::is_default() const
{
  return min_version == G_TLS_PROTOCOL_VERSION_UNKNOWN &&
         max_version == G_TLS_PROTOCOL_VERSION_UNKNOWN && ciphersuites.empty() && priority.empty();
}

bool PriorityOptions::build(bool datagram, bool psk, Owned<gnutls_priority_t> *out_priority,
                            GError **error) const
{
  // The versions asked for must be of this connection's kind.
  for (auto [value, property] : {std::pair{min_version, "min-protocol-version"},
                                 std::pair{max_version, "max-protocol-version"}}) {
    if (value == G_TLS_PROTOCOL_VERSION_UNKNOWN)
      continue;
    if (datagram ? !is_dtls_version(value) : !is_tls_version(value)) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                  datagram ? _("%s is %s, which is not a DTLS version")
                           : _("%s is %s, which is not a TLS version"),
                  property, protocol_version_name(value));
      return false;
    }
  }
  if (min_version != G_TLS_PROTOCOL_VERSION_UNKNOWN && max_version != G_TLS_PROTOCOL_VERSION_UNKNOWN &&
      min_version > max_version) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("min-protocol-version %s is above max-protocol-version %s"),
                protocol_version_name(min_version), protocol_version_name(max_version));
    return false;
  }

  // The base: the connection's priority string, else the environment's,
  // else GnuTLS's default.
  std::string base_text;
  const std::string *base = nullptr;
  if (!priority.empty()) {
    gnutls_priority_t p = nullptr;
    const char *err_pos = nullptr;
    if (gnutls_priority_init2(&p, priority.c_str(), &err_pos, 0) != GNUTLS_E_SUCCESS) {
      g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                  _("The priority string “%s” is invalid at “%s”"), priority.c_str(),
                  err_pos ? err_pos : priority.c_str());
      return false;
    }
    gnutls_priority_deinit(p);
    base = &priority;
  } else if (const char *env = environment_priority()) {
    base_text = env;
    base = &base_text;
  }

  // Cipher suites, by their parts.
  std::string mods;
  bool has_tls13_suite = false, has_tls12_suite = false;
  if (!ciphersuites.empty()) {
    std::vector<std::string> seen;
    std::string kx, ciphers, macs;
    for (const std::string &name : ciphersuites) {
      SuiteParts parts;
      if (!find_suite(name, &parts)) {
        g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                    _("Unknown cipher suite “%s” in ciphersuites"), name.c_str());
        return false;
      }
      (parts.tls13 ? has_tls13_suite : has_tls12_suite) = true;
      if (!parts.tls13)
        add_part(seen, kx, gnutls_kx_get_name(parts.kx));
      add_part(seen, ciphers, gnutls_cipher_get_name(parts.cipher));
      add_part(seen, macs, gnutls_mac_get_name(parts.mac));
    }
    if (psk && !has_tls12_suite)
      kx += ":+ECDHE-PSK:+DHE-PSK:+PSK";  // TLS 1.3 PSK key exchange modes
    mods += ":-KX-ALL" + kx + ":-CIPHER-ALL" + ciphers + ":-MAC-ALL" + macs;
  }

  // The version window, in this connection's family.
  const VersionInfo *versions = datagram ? kDtlsVersions : kTlsVersions;
  size_t n_versions = datagram ? G_N_ELEMENTS(kDtlsVersions) : G_N_ELEMENTS(kTlsVersions);
  GTlsProtocolVersion lo = min_version != G_TLS_PROTOCOL_VERSION_UNKNOWN ? min_version : versions[0].gio;
  GTlsProtocolVersion hi = max_version != G_TLS_PROTOCOL_VERSION_UNKNOWN ? max_version
                                                                         : versions[n_versions - 1].gio;
  if (!ciphersuites.empty()) {
    if (!has_tls13_suite && hi > G_TLS_PROTOCOL_VERSION_TLS_1_2 && !datagram)
      hi = G_TLS_PROTOCOL_VERSION_TLS_1_2;
    if (!has_tls12_suite)
      lo = datagram ? GTlsProtocolVersion(G_TLS_PROTOCOL_VERSION_DTLS_1_2 + 1)
                    : std::max(lo, G_TLS_PROTOCOL_VERSION_TLS_1_3);
    if (lo > hi) {
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                          datagram ? _("None of the cipher suites in ciphersuites can be used with DTLS")
                                   : _("None of the cipher suites in ciphersuites can be used with "
                                       "the protocol versions allowed"));
      return false;
    }
  }
  for (size_t i = 0; i < n_versions; i++)
    if (versions[i].gio < lo || versions[i].gio > hi)
      mods += std::string(":-") + versions[i].keyword;

  gnutls_priority_t p = nullptr;
  const char *err_pos = nullptr;
  std::string text;
  int ret = init_priority(base, mods, &p, &err_pos, &text);
  if (ret == GNUTLS_E_SUCCESS && psk && ciphersuites.empty()) {
    // The PSK key exchanges first ((EC)DHE-PSK preferred), then the
    // priority's own, in its order.
    const unsigned *kx_list = nullptr;
    int n = gnutls_priority_kx_list(p, &kx_list);
    std::string kx = ":-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK";
    for (int i = 0; i < n; i++) {
      auto alg = static_cast<gnutls_kx_algorithm_t>(kx_list[i]);
      if (alg != GNUTLS_KX_PSK && alg != GNUTLS_KX_DHE_PSK && alg != GNUTLS_KX_ECDHE_PSK &&
          gnutls_kx_get_name(alg))
        kx += std::string(":+") + gnutls_kx_get_name(alg);
    }
    gnutls_priority_deinit(p);
    p = nullptr;
    mods += kx;
    ret = init_priority(base, mods, &p, &err_pos, &text);
  }
  if (ret != GNUTLS_E_SUCCESS && ret != GNUTLS_E_NO_PRIORITIES_WERE_SET) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("The priority string “%s” is invalid at “%s”"), text.c_str(),
                err_pos ? err_pos : text.c_str());
    return false;
  }
  Owned<gnutls_priority_t> built(ret == GNUTLS_E_SUCCESS ? p : nullptr);

  // Something of this connection's kind must be left.
  bool usable = false;
  if (built) {
    const unsigned *protocols = nullptr;
    int n_protocols = gnutls_priority_protocol_list(p, &protocols);
    for (int i = 0; i < n_protocols; i++)
      if ((protocols[i] >= GNUTLS_DTLS0_9) == datagram)
        usable = true;
  }
  if (!usable) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                _("No protocol version from %s to %s is enabled by the priority “%s”"),
                protocol_version_name(lo), protocol_version_name(hi),
                base ? base->c_str() : _("(the default)"));
    return false;
  }
  *out_priority = std::move(built);
  return true;
}

}  // namespace gtg
