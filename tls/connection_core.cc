// ConnectionCore, first part: the session and the handshake (creating and
// configuring the session, the GnuTLS callbacks, and running a handshake or
// rehandshake, sync or async). The other parts: connection_io.cc (the gate,
// records, close and results), connection_certificates.cc (verifying the
// peer's certificate and choosing ours), connection_errors.cc (GnuTLS
// errors to GErrors) and connection_background.cc (handshakes on a fiber
// or in the background, and taking them over). The class is in
// connection_core.h.
#include "connection_core.h"

#include "database.h"
#include "handshake_fiber.h"
#include "session_cache.h"

#include <glib/gi18n-lib.h>
#include <gnutls/dtls.h>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace gtg {

namespace {

// G_TLS_GNUTLS_PRIORITY, or nullptr when it is not set (or empty).
const char *priority_override()
{
  const char *env = g_getenv("G_TLS_GNUTLS_PRIORITY");
  return env && *env ? env : nullptr;
}

// The priority every session uses: G_TLS_GNUTLS_PRIORITY whole if set, else
// GnuTLS's default priority (which follows the system's GnuTLS
// configuration) with nothing appended. glib-networking appends %COMPAT,
// which turns off Extended Master Secret and Encrypt-then-MAC and accepts
// oversized records; `G_TLS_GNUTLS_PRIORITY=NORMAL:%COMPAT` restores that
// for a broken peer (docs/user-guide.md). Parsed once per process.
gnutls_priority_t session_priority()
{
  static gnutls_priority_t priority = [] {
    gnutls_priority_t p = nullptr;
    const char *env = priority_override();
    const char *err_pos = nullptr;
    if (env && gnutls_priority_init2(&p, env, &err_pos, 0) == GNUTLS_E_SUCCESS)
      return p;
    if (env)
      g_warning("G_TLS_GNUTLS_PRIORITY is invalid at \"%s\"; using the default priority",
                err_pos ? err_pos : env);
    gnutls_priority_init(&p, nullptr, nullptr);
    return p;
  }();
  return priority;
}

// The security level of the server's RFC 7919 DH parameters (TLS 1.2 DHE
// with a client that offers no FFDHE group): the level GnuTLS gives the
// keywords of G_TLS_GNUTLS_PRIORITY (SECURE192, SECURE256 and SUITEB128 are
// HIGH, SUITEB192 ULTRA), or that a %PROFILE_ keyword names; else MEDIUM,
// which gives ffdhe2048, the smallest RFC 7919 group, which every lower
// level (NORMAL, SECURE128, the system default) accepts.
gnutls_sec_param_t priority_dh_level()
{
  struct Level {
    const char *keyword;
    gnutls_sec_param_t level;
  };
  static const Level levels[] = {
      {"%PROFILE_HIGH", GNUTLS_SEC_PARAM_HIGH},   {"SECURE192", GNUTLS_SEC_PARAM_HIGH},
      {"SECURE256", GNUTLS_SEC_PARAM_HIGH},       {"SUITEB128", GNUTLS_SEC_PARAM_HIGH},
      {"%PROFILE_ULTRA", GNUTLS_SEC_PARAM_ULTRA}, {"SUITEB192", GNUTLS_SEC_PARAM_ULTRA},
      {"%PROFILE_FUTURE", GNUTLS_SEC_PARAM_FUTURE},
  };
  gnutls_sec_param_t level = GNUTLS_SEC_PARAM_MEDIUM;
  const char *env = priority_override();
  if (!env)
    return level;
  Owned<char **> tokens(g_strsplit(env, ":", -1));
  for (char **t = tokens.get(); *t; t++)
    for (const Level &l : levels)
      if (g_ascii_strcasecmp(*t, l.keyword) == 0 && l.level > level)
        level = l.level;
  return level;
}

}  // namespace

// Credentials are shared: one for all clients; one per database for servers
// (it carries that database's CA names for CertificateRequest). Certificates
// themselves come from the connection through the retrieve callback, and
// verification through the session's verify callback.
static gnutls_certificate_credentials_t new_credentials(
    gnutls_certificate_retrieve_function2 *retrieve)
{
  gnutls_certificate_credentials_t creds = nullptr;
  gnutls_certificate_allocate_credentials(&creds);
  gnutls_certificate_set_retrieve_function2(creds, retrieve);
  return creds;
}

static GQuark server_credentials_quark()
{
  static GQuark q = g_quark_from_static_string("gtg-server-credentials");
  return q;
}

// A server's credentials also carry the RFC 7919 DH parameters of the
// priority's level, so that a TLS 1.2 client offering DHE suites but no FFDHE
// group (or no supported_groups at all) can still use them.
static gnutls_certificate_credentials_t new_server_credentials(
    gnutls_certificate_retrieve_function2 *retrieve)
{
  gnutls_certificate_credentials_t creds = new_credentials(retrieve);
  gnutls_certificate_set_known_dh_params(creds, priority_dh_level());
  return creds;
}

static gnutls_certificate_credentials_t server_credentials(
    GTlsDatabase *database, gnutls_certificate_retrieve_function2 *retrieve)
{
  static gnutls_certificate_credentials_t without_cas = new_server_credentials(retrieve);
  unsigned n_anchors = 0;
  const gnutls_x509_crt_t *anchors = database ? database_get_anchors(database, &n_anchors) : nullptr;
  if (!anchors || n_anchors == 0)
    return without_cas;

  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto *creds = static_cast<gnutls_certificate_credentials_t>(
      g_object_get_qdata(G_OBJECT(database), server_credentials_quark()));
  if (creds)
    return creds;
  creds = new_server_credentials(retrieve);
  gnutls_certificate_set_x509_trust(creds, const_cast<gnutls_x509_crt_t *>(anchors),
                                    static_cast<int>(n_anchors));
  g_object_set_qdata_full(G_OBJECT(database), server_credentials_quark(), creds,
                          [](gpointer c) noexcept {
                            gnutls_certificate_free_credentials(
                                static_cast<gnutls_certificate_credentials_t>(c));
                          });
  return creds;
}


// The host name a server identity names, without a trailing dot; empty for
// an IP address (RFC 6066 §3: never sent as SNI) or an identity without one.
static std::string identity_host_name(GSocketConnectable *identity)
{
  const char *host = nullptr;
  if (G_IS_NETWORK_ADDRESS(identity))
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(identity));
  else if (G_IS_NETWORK_SERVICE(identity))
    host = g_network_service_get_domain(G_NETWORK_SERVICE(identity));
  if (!host || g_hostname_is_ip_address(host))
    return {};
  std::string name(host);
  if (!name.empty() && name.back() == '.')
    name.pop_back();
  return name;
}

ConnectionCore::ConnectionCore(GObject *owner, Role role, bool datagram)
    : owner_(owner), role_(role), datagram_(datagram)
{
  static std::atomic<unsigned> next_id{1};
  id_ = next_id.fetch_add(1, std::memory_order_relaxed);
}

ConnectionCore::~ConnectionCore()
{
  session_.reset();  // before the transport its callbacks point at
  std::lock_guard lock(mutex_);
  g_clear_pointer(&background_context_, g_main_context_unref);
  for (GSource *s : gate_sources_)
    g_source_unref(s);
}

void ConnectionCore::set_transport(std::unique_ptr<Transport> transport)
{
  transport_ = std::move(transport);
}

std::string ConnectionCore::resumption_key() const
{
  // PSK clients neither resume nor leave sessions for others: a session a
  // PSK authenticated carries no certificate to verify.
  if (psk_ || psk_offered())
    return {};
  // A session is only resumed with the same client certificate (or none),
  // and over the protocol it was made with: a TLS ticket offered in a DTLS
  // ClientHello is spent without resuming anything.
  std::string own = datagram_ ? "/dtls" : "";
  if (certificate) {
    GByteArray *der = nullptr;
    g_object_get(certificate.get(), "certificate", &der, nullptr);
    if (der) {
      CharPtr sum(g_compute_checksum_for_data(G_CHECKSUM_SHA256, der->data, der->len));
      own += std::string("#") + sum.get();
      g_byte_array_unref(der);
    }
  }
  // Nor with other protocol versions or cipher suites than it was made with.
  const PriorityOptions &o = priority_options;
  if (!o.is_default()) {
    std::string choice = std::to_string(o.min_version) + "-" + std::to_string(o.max_version) + "/" + o.priority;
    for (const std::string &suite : o.ciphersuites)
      choice += "/" + suite;
    CharPtr sum(g_compute_checksum_for_string(G_CHECKSUM_SHA256, choice.c_str(), -1));
    own += std::string("%") + sum.get();
  }
  return server_key() + own;
}

std::string ConnectionCore::server_key() const
{
  GSocketConnectable *id = server_identity.get();
  if (!id)
    return {};
  if (G_IS_NETWORK_ADDRESS(id)) {
    return std::string(g_network_address_get_hostname(G_NETWORK_ADDRESS(id))) + ":" +
           std::to_string(g_network_address_get_port(G_NETWORK_ADDRESS(id)));
  }
  if (G_IS_INET_SOCKET_ADDRESS(id)) {
    CharPtr ip(g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(id))));
    return std::string(ip.get()) + ":" +
           std::to_string(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(id)));
  }
  CharPtr text(g_socket_connectable_to_string(id));
  return text ? std::string(text.get()) : std::string();
}

bool ConnectionCore::prepare_session(GError **error)
{
  if (session_)
    return true;
  if (!transport_) {
    g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("The connection has no base stream"));
    return false;
  }
  // A connection that chose its own versions, suites or priority string
  // gets a priority of its own; every other one shares the process's.
  // So does one that offers pre-shared keys (the PSK key exchanges first).
  bool psk = psk_offered();
  Owned<gnutls_priority_t> own_priority;
  if ((!priority_options.is_default() || psk) &&
      !priority_options.build(datagram_, psk, &own_priority, error)) {
    g_debug("Connection %u: %s", id_, error && *error ? (*error)->message : "bad priority");
    return false;
  }
  unsigned flags = GNUTLS_NONBLOCK | (role_ == Role::Client ? GNUTLS_CLIENT : GNUTLS_SERVER);
  if (datagram_)
    flags |= GNUTLS_DATAGRAM;
  if (role_ == Role::Client)
    flags |= GNUTLS_POST_HANDSHAKE_AUTH;
  gnutls_session_t session = nullptr;
  int ret = gnutls_init(&session, flags);
  if (ret != GNUTLS_E_SUCCESS) {
    g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_MISC, _("Could not create TLS session: %s"),
                gnutls_strerror(ret));
    return false;
  }
  session_.reset(session);
  gnutls_session_set_ptr(session, this);
  own_priority_ = std::move(own_priority);
  psk_ = psk;
  gnutls_priority_set(session, own_priority_ ? own_priority_.get() : session_priority());
  transport_->attach(session);
  gnutls_session_set_verify_function(session, verify_cb);

  if (datagram_) {
    gnutls_dtls_set_timeouts(session, kDtlsRetransmitMs, dtls_handshake_timeout_ms);
  }

  if (!advertised_protocols.empty()) {
    std::vector<gnutls_datum_t> protos;
    for (const std::string &p : advertised_protocols)
      protos.push_back({reinterpret_cast<unsigned char *>(const_cast<char *>(p.data())),
                        static_cast<unsigned>(p.size())});
    gnutls_alpn_set_protocols(session, protos.data(), static_cast<unsigned>(protos.size()), 0);
  }

  if (role_ == Role::Client) {
    static gnutls_certificate_credentials_t client_creds = new_credentials(retrieve_cb);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, client_creds);
    std::string host = identity_host_name(server_identity.get());
    if (!host.empty())
      gnutls_server_name_set(session, GNUTLS_NAME_DNS, host.data(), host.size());
    std::string key = resumption_key();
    GnutlsBuffer data;
    if (!copied_session_.empty()) {
      gnutls_session_set_data(session, copied_session_.data(), copied_session_.size());
      g_debug("Connection %u: offering a session copied from another connection", id_);
    } else if (!key.empty() && session_cache_take(key, data)) {
      gnutls_session_set_data(session, data.datum.data, data.datum.size);
      g_debug("Connection %u: offering a cached session for %s", id_, server_key().c_str());
    }
    if (!datagram_)
      gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                         GNUTLS_HOOK_POST, handshake_hook_cb);
  } else {
    session_database_ = database.copy();
    // A PSK server without a certificate offers no certificate suites.
    if (certificate || !psk_)
      gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE,
                             server_credentials(database.get(), retrieve_cb));
    // Tickets only where no client certificate is asked for: a resumed
    // session would carry no client certificate to verify.
    if (authentication_mode == G_TLS_AUTHENTICATION_NONE)
      gnutls_session_ticket_enable_server(session, session_ticket_key());
  }
  // DTLS: every message we queue tells the transport that a new flight
  // follows (retransmission counting); the client also stores tickets. A
  // PSK server stops at its first message after refusing an identity.
  if (datagram_ || (psk_ && role_ == Role::Server))
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
                                       handshake_hook_cb);
  if (psk_ && !prepare_psk(error)) {
    session_.reset();
    return false;
  }
  apply_authentication_mode();
  return true;
}

void ConnectionCore::apply_authentication_mode()
{
  if (role_ != Role::Server || !session_)
    return;
  gnutls_certificate_request_t req = GNUTLS_CERT_IGNORE;
  if (authentication_mode == G_TLS_AUTHENTICATION_REQUESTED)
    req = GNUTLS_CERT_REQUEST;
  else if (authentication_mode == G_TLS_AUTHENTICATION_REQUIRED)
    req = GNUTLS_CERT_REQUIRE;
  gnutls_certificate_server_set_request(session_.get(), req);
}

// ----- GnuTLS callbacks -----

int ConnectionCore::verify_cb(gnutls_session_t session) noexcept
{
  return static_cast<ConnectionCore *>(gnutls_session_get_ptr(session))->verify_peer();
}

int ConnectionCore::retrieve_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
                                int n_req, const gnutls_pk_algorithm_t *, int,
                                gnutls_pcert_st **pcert, unsigned *pcert_length,
                                gnutls_privkey_t *privkey) noexcept
{
  auto *self = static_cast<ConnectionCore *>(gnutls_session_get_ptr(session));
  return self->retrieve_certificate(req_ca_dn, n_req, pcert, pcert_length, privkey);
}

int ConnectionCore::handshake_hook_cb(gnutls_session_t session, unsigned htype, unsigned,
                                      unsigned incoming, const gnutls_datum_t *) noexcept
{
  auto *self = static_cast<ConnectionCore *>(gnutls_session_get_ptr(session));
  if (!incoming && self->psk_refused_)
    return GNUTLS_E_INSUFFICIENT_CREDENTIALS;  // psk-lookup refused: no fallback
  if (!incoming && self->transport_)
    self->transport_->handshake_message_queued();
  if (self->role_ == Role::Client && htype == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)
    self->store_resumption_data();
  return 0;
}

void ConnectionCore::store_resumption_data()
{
  std::string key = resumption_key();
  if (key.empty())
    return;
  GnutlsBuffer data;
  if (gnutls_session_get_data2(session_.get(), data.out()) == GNUTLS_E_SUCCESS) {
    session_cache_store(key, data.datum);
    g_debug("Connection %u: cached a session for %s", id_, server_key().c_str());
  }
}

// ----- Handshake -----

StepResult ConnectionCore::handshake_step(GError **error)
{
  if (role_ == Role::Server && !server_hello_received_) {
    StepResult r = transport_->before_server_handshake(error);
    if (r == StepResult::Again && datagram_ &&
        g_get_monotonic_time() - handshake_started_us_ >=
            static_cast<gint64>(dtls_handshake_timeout_ms) * 1000) {
      // handshake-timeout bounds the wait for a ClientHello with a valid cookie too.
      g_debug("Connection %u: no ClientHello with a valid cookie within %u ms", id_,
              dtls_handshake_timeout_ms);
      set_gnutls_error(GNUTLS_E_TIMEDOUT, true, error);
      return StepResult::Failed;
    }
    if (r != StepResult::Done)
      return r;
    server_hello_received_ = true;
  }
  for (;;) {
    int ret = gnutls_handshake(session_.get());
    if (ret == GNUTLS_E_AGAIN && datagram_ &&
        g_get_monotonic_time() - handshake_started_us_ >=
            static_cast<gint64>(dtls_handshake_timeout_ms) * 1000)
      ret = GNUTLS_E_TIMEDOUT;  // the total GnuTLS would see only later
    if (ret == GNUTLS_E_SUCCESS) {
      // A resumed session skips certificate verification in GnuTLS; this
      // connection's database, identity and flags still apply.
      // A session authenticated by this connection's PSK has no certificate.
      bool by_psk = psk_ && gnutls_auth_get_type(session_.get()) == GNUTLS_CRD_PSK;
      if (role_ == Role::Client && gnutls_session_is_resumed(session_.get()) && !by_psk &&
          verify_peer() != 0) {
        set_gnutls_error(GNUTLS_E_CERTIFICATE_ERROR, true, error);
        return StepResult::Failed;
      }
      return StepResult::Done;
    }
    if (ret == GNUTLS_E_AGAIN)
      return StepResult::Again;
    if (ret == GNUTLS_E_INTERRUPTED)
      continue;
    if (ret == GNUTLS_E_GOT_APPLICATION_DATA) {
      // The peer sent data before it saw our renegotiation request: keep it
      // for the next read, as GnuTLS requires it be read before continuing.
      guint8 chunk[16384];
      ssize_t n = gnutls_record_recv(session_.get(), chunk, sizeof chunk);
      if (n > 0) {
        std::lock_guard lock(app_data_mutex_);
        held_app_data_.insert(held_app_data_.end(), chunk, chunk + n);
        has_held_app_data_.store(true, std::memory_order_release);
      }
      continue;
    }
    if (ret == GNUTLS_E_WARNING_ALERT_RECEIVED &&
        received_alert(session_.get()) != GNUTLS_A_NO_RENEGOTIATION)
      continue;
    if (ret == GNUTLS_E_TIMEDOUT && datagram_) {
      unsigned retransmissions = transport_->retransmissions();
      g_debug("Connection %u: DTLS handshake timed out after %" G_GINT64_FORMAT
              " ms (handshake-timeout %u ms, %u retransmission%s)",
              id_, (g_get_monotonic_time() - handshake_started_us_) / 1000,
              dtls_handshake_timeout_ms, retransmissions, retransmissions == 1 ? "" : "s");
    }
    set_gnutls_error(ret, true, error);
    return StepResult::Failed;
  }
}

static GTlsProtocolVersion protocol_version_of(gnutls_protocol_t v)
{
  switch (v) {
  case GNUTLS_SSL3: return G_TLS_PROTOCOL_VERSION_SSL_3_0;
  case GNUTLS_TLS1_0: return G_TLS_PROTOCOL_VERSION_TLS_1_0;
  case GNUTLS_TLS1_1: return G_TLS_PROTOCOL_VERSION_TLS_1_1;
  case GNUTLS_TLS1_2: return G_TLS_PROTOCOL_VERSION_TLS_1_2;
  case GNUTLS_TLS1_3: return G_TLS_PROTOCOL_VERSION_TLS_1_3;
  case GNUTLS_DTLS1_0: return G_TLS_PROTOCOL_VERSION_DTLS_1_0;
  case GNUTLS_DTLS1_2: return G_TLS_PROTOCOL_VERSION_DTLS_1_2;
  default: return G_TLS_PROTOCOL_VERSION_UNKNOWN;
  }
}

void ConnectionCore::finish_handshake()
{
  gnutls_session_t s = session_.get();
  gnutls_datum_t alpn{nullptr, 0};
  if (gnutls_alpn_get_selected_protocol(s, &alpn) == GNUTLS_E_SUCCESS)
    negotiated_protocol_.assign(reinterpret_cast<const char *>(alpn.data), alpn.size);
  else
    negotiated_protocol_.clear();
  protocol_version_ = protocol_version_of(gnutls_protocol_get_version(s));
  const char *suite = gnutls_ciphersuite_get(s);
  ciphersuite_ = suite ? suite : "";
  session_resumed_ = gnutls_session_is_resumed(s);
  if (role_ == Role::Client && protocol_version_ != G_TLS_PROTOCOL_VERSION_TLS_1_3)
    store_resumption_data();
  g_debug("Connection %u: %s handshake done in %" G_GINT64_FORMAT " us (%s, %s%s)", id_,
          role_ == Role::Client ? "client" : "server",
          g_get_monotonic_time() - handshake_started_us_,
          gnutls_protocol_get_name(gnutls_protocol_get_version(s)), ciphersuite_.c_str(),
          session_resumed_ ? ", resumed" : "");
}

void ConnectionCore::notify_peer_certificate()
{
  g_object_freeze_notify(owner_);
  g_object_notify(owner_, "peer-certificate");
  g_object_notify(owner_, "peer-certificate-errors");
  g_object_thaw_notify(owner_);
}

void ConnectionCore::notify_handshake_results(bool resumed_changed)
{
  g_object_freeze_notify(owner_);
  g_object_notify(owner_, "peer-certificate");
  g_object_notify(owner_, "peer-certificate-errors");
  g_object_notify(owner_, "negotiated-protocol");
  g_object_notify(owner_, "protocol-version");
  g_object_notify(owner_, "ciphersuite-name");
  if (resumed_changed)
    g_object_notify(owner_, "session-resumed");
  g_object_thaw_notify(owner_);
}

bool ConnectionCore::claim_handshake(bool blocking, GError **error, bool *out_joined)
{
  bool took_over = false;
  bool saw_background = false;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (handshake_state_ == HandshakeState::Running) {
        saw_background = saw_background || background_run_ != nullptr;
        if (!blocking) {
          g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
          return false;
        }
        if (take_over_background(lock)) {
          took_over = true;
          break;
        }
        wait_changed(lock, -1);
        continue;
      }
      if (handshake_state_ == HandshakeState::Failed && handshake_error_) {
        g_propagate_error(error, g_error_copy(handshake_error_.get()));
        return false;
      }
      break;
    }
    if (!took_over && saw_background && out_joined && handshake_state_ == HandshakeState::Done) {
      // The implicit handshake this caller waited for was the one it
      // asked for: it is over, nothing to renegotiate.
      *out_joined = true;
      return true;
    }
    if (!took_over) {
      if (handshake_state_ == HandshakeState::Done) {
        // An explicit handshake on an established connection. Waits for the
        // readers and writers of other threads to step out, so that GnuTLS is
        // never in a record call while it renegotiates.
        rehandshake_pending_ = true;
      }
      handshake_state_ = HandshakeState::Running;
      refresh_gate();
      handshake_started_us_ = g_get_monotonic_time();
      if (datagram_)
        transport_->set_handshake_deadline(handshake_started_us_ +
                                           static_cast<gint64>(dtls_handshake_timeout_ms) * 1000);
    }
  }
  if (took_over)
    g_object_unref(owner_);  // the background run's reference; the caller holds one
  return true;
}

void ConnectionCore::release_handshake(HandshakeState outcome, const GError *error)
{
  std::vector<GSource *> sources;
  {
    std::lock_guard lock(mutex_);
    handshake_state_ = outcome;
    rehandshake_pending_ = false;
    refresh_gate();
    if (outcome == HandshakeState::Failed)
      handshake_error_.reset(error ? g_error_copy(error) : nullptr);
    sources.swap(gate_sources_);
  }
  changed_.notify_all();
  for (GSource *s : sources) {
    g_source_set_ready_time(s, 0);
    g_source_unref(s);
  }
}

// Starts what an explicit handshake on an established connection means for
// the negotiated protocol: renegotiation in TLS 1.2 (HelloRequest from a
// server), post-handshake authentication or a key update in TLS 1.3.
bool ConnectionCore::start_rehandshake(GError **error)
{
  gnutls_session_t s = session_.get();
  int ret = GNUTLS_E_SUCCESS;
  if (gnutls_protocol_get_version(s) == GNUTLS_TLS1_3) {
    if (role_ == Role::Server && authentication_mode != G_TLS_AUTHENTICATION_NONE &&
        !peer_certificate_) {
      apply_authentication_mode();
      rehandshake_kind_ = Rehandshake::Reauth;
    } else {
      rehandshake_kind_ = Rehandshake::KeyUpdate;
    }
    return true;
  }
  if (role_ == Role::Server) {
    apply_authentication_mode();
    ret = gnutls_rehandshake(s);
    if (ret < 0) {
      set_gnutls_error(ret, true, error);
      return false;
    }
  }
  rehandshake_kind_ = Rehandshake::Full;
  return true;
}

StepResult ConnectionCore::rehandshake_step(GError **error)
{
  int ret = GNUTLS_E_SUCCESS;
  switch (rehandshake_kind_) {
  case Rehandshake::Full:
    return handshake_step(error);
  case Rehandshake::KeyUpdate:
    ret = gnutls_session_key_update(session_.get(), 0);
    break;
  case Rehandshake::Reauth:
    ret = gnutls_reauth(session_.get(), 0);
    break;
  }
  if (ret == GNUTLS_E_AGAIN)
    return StepResult::Again;
  if (ret < 0) {
    set_gnutls_error(ret, true, error);
    return StepResult::Failed;
  }
  return StepResult::Done;
}

bool ConnectionCore::run_handshake(GCancellable *cancellable, gint64 deadline_us,
                                   bool *out_step_failed, GError **error)
{
  op_cancellable_ = cancellable;
  transport_->set_input_mode(true, cancellable);
  bool step_failed = false;
  auto step = [this, &step_failed](GError **e) {
    stepping_thread_ = g_thread_self();
    StepResult r = rehandshaking_ ? rehandshake_step(e) : handshake_step(e);
    stepping_thread_ = nullptr;
    step_failed = step_failed || r == StepResult::Failed;
    return r;
  };
  gint64 timeout_us = deadline_us < 0 ? -1 : std::max<gint64>(deadline_us - g_get_monotonic_time(), 0);
  bool ok = drive_sync(*transport_, step, timeout_us, cancellable, error);
  op_cancellable_ = nullptr;
  *out_step_failed = step_failed;
  return ok;
}

// Completes a handshake run: records results, wakes waiters, notifies.
void ConnectionCore::conclude_handshake(bool ok, GError *error)
{
  bool was_resumed = session_resumed_;
  if (ok) {
    finish_handshake();
  } else {
    session_resumed_ = false;  // a failed handshake resumed nothing
    g_debug("Connection %u: handshake failed after %" G_GINT64_FORMAT " us: %s", id_,
            g_get_monotonic_time() - handshake_started_us_, error ? error->message : "?");
  }
  bool resumed_changed = session_resumed_ != was_resumed;
  rehandshaking_ = false;
  if (transport_)
    transport_->set_handshaking(false);
  bool peer_changed = pending_peer_ || pending_errors_ != peer_errors_;
  if (pending_peer_) {
    peer_certificate_ = std::move(pending_peer_);
    peer_errors_ = pending_errors_;
  }
  release_handshake(ok ? HandshakeState::Done : HandshakeState::Failed, error);
  if (ok) {
    notify_handshake_results(resumed_changed);
  } else {
    if (peer_changed)
      notify_peer_certificate();
    if (resumed_changed)
      g_object_notify(owner_, "session-resumed");
  }
}

bool ConnectionCore::begin_handshake(bool blocking, GError **error, bool *out_joined)
{
  if (!claim_handshake(blocking, error, out_joined))
    return false;
  if (out_joined && *out_joined)
    return true;
  bool established = rehandshake_pending_;
  if (!prepare_session(error)) {
    conclude_handshake(false, error ? *error : nullptr);
    return false;
  }
  rehandshaking_ = established;
  transport_->set_handshaking(true);
  g_debug("Connection %u: %s %s started (%s)", id_, role_ == Role::Client ? "client" : "server",
          established ? "rehandshake" : "handshake", datagram_ ? "DTLS" : "TLS");
  if (established && !start_rehandshake(error)) {
    conclude_handshake(false, error ? *error : nullptr);
    return false;
  }
  return true;
}

bool ConnectionCore::handshake(GCancellable *cancellable, GError **error)
{
  if (session_ended_error(error))
    return false;
  bool joined = false;
  if (!begin_handshake(true, error, &joined))
    return false;
  if (joined)
    return true;  // an implicit handshake running in the background did it
  GError *local = nullptr;
  bool step_failed = false;
  bool ok = run_handshake(cancellable, -1, &step_failed, &local);
  conclude_handshake(ok, local);
  if (local)
    g_propagate_error(error, local);
  return ok;
}

void ConnectionCore::handshake_async(int io_priority, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data,
                                     gpointer source_tag)
{
  GTask *task = g_task_new(owner_, cancellable, callback, user_data);
  g_task_set_source_tag(task, source_tag);
  g_task_set_priority(task, io_priority);
  GError *ended = nullptr;
  if (session_ended_error(&ended)) {
    g_task_return_error(task, ended);
    g_object_unref(task);
    return;
  }
  handshake_async_continue(task);
}

// Waits (without blocking) until the running handshake ends, then claims
// the handshake role for `task`.
void ConnectionCore::retry_async_handshake_later(GTask *task, bool joining)
{
  GSource *wait = gate_source(g_task_get_cancellable(task));
  struct Retry {
    ConnectionCore *self;
    GTask *task;
    bool joining;
  };
  g_source_set_callback(
      wait,
      [](gpointer data) noexcept -> gboolean {
        auto *r = static_cast<Retry *>(data);
        r->self->handshake_async_continue(r->task, r->joining);
        delete r;
        return G_SOURCE_REMOVE;
      },
      new Retry{this, task, joining}, nullptr);
  g_source_set_priority(wait, g_task_get_priority(task));
  g_source_attach(wait, g_task_get_context(task));
  g_source_unref(wait);
}

// Claims the handshake role for `task` and starts it; an async handshake
// that finds another handshake running waits for it without blocking and
// tries again when the gate changes.
void ConnectionCore::handshake_async_continue(GTask *task, bool joining)
{
  if (g_task_return_error_if_cancelled(task)) {
    g_object_unref(task);
    return;
  }
  if (joining && handshake_done()) {
    // The implicit handshake it waited for is what it asked for.
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return;
  }
  GError *error = nullptr;
  if (!claim_handshake(false, &error)) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(error);
      bool background = false;
      {
        std::lock_guard lock(mutex_);
        background = background_run_ != nullptr;
      }
      retry_async_handshake_later(task, joining || background);
      return;
    }
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  handshake_async_start(task);
}

void ConnectionCore::handshake_async_start(GTask *task)
{
  bool established = rehandshake_pending_;
  GError *error = nullptr;
  if (transport_)
    transport_->set_handshaking(true);
  g_debug("Connection %u: %s %s started (%s, async)", id_, role_ == Role::Client ? "client" : "server",
          established ? "rehandshake" : "handshake", datagram_ ? "DTLS" : "TLS");
  if (!prepare_session(&error) || (rehandshaking_ = established, established && !start_rehandshake(&error))) {
    conclude_handshake(false, error);
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  GCancellable *cancellable = g_task_get_cancellable(task);
  ensure_fiber();
  transport_->set_input_mode(false, cancellable);
  Step step = [this, cancellable](GError **e) { return async_handshake_step(cancellable, e); };
  drive_async(*transport_, std::move(step), g_task_get_priority(task), cancellable,
              [this, task](GError *e) {
                conclude_handshake(e == nullptr, e);
                if (e)
                  g_task_return_error(task, e);
                else
                  g_task_return_boolean(task, TRUE);
                g_object_unref(task);
              },
              fiber_.get());
}

}  // namespace gtg
