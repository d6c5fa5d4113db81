// ConnectionCore: one TLS or DTLS connection's GnuTLS session and the
// operations on it (handshake, read, write, close), shared by the TLS
// connection GObjects (over a GIOStream) and the DTLS ones (over a
// GDatagramBased).
//
// The GObjects own a ConnectionCore, forward their properties to it and call
// its operations; the core emits `accept-certificate` and property
// notifications on its owner. Every operation runs through the driver
// (driver.h) on the caller's thread: sync operations poll, async ones wait on
// the caller's thread-default main context, nonblocking ones report
// G_IO_ERROR_WOULD_BLOCK. The gate (a mutex and condition) lets one reader and
// one writer run at once and keeps both out while a handshake runs.
#pragma once

#include "driver.h"
#include "owners.h"
#include "priority_options.h"
#include "transport.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gtg {

enum class Role { Client, Server };

// The state of the handshake, as the gate sees it.
enum class HandshakeState {
  NotStarted,  // no handshake yet: the first read or write starts one
  Running,     // an operation (explicit or implicit) is handshaking
  Done,        // established
  Failed,      // the handshake failed; every later operation fails the same way
};

// Which operation a caller runs (the gate's view).
enum class Side { Read, Write };

class ConnectionCore {
public:
  ConnectionCore(GObject *owner, Role role, bool datagram);
  ~ConnectionCore();
  ConnectionCore(const ConnectionCore &) = delete;
  ConnectionCore &operator=(const ConnectionCore &) = delete;

  // Servers are made as clients and switched before construction ends
  // (GObject instance init cannot see the final class).
  void set_role(Role role) { role_ = role; }
  Role role() const { return role_; }
  // The process-unique number that names this connection in debug logs.
  unsigned id() const { return id_; }

  // The transport must be set before any operation (from base-io-stream or base-socket).
  void set_transport(std::unique_ptr<Transport> transport);
  Transport *transport() const { return transport_.get(); }

  // ----- Configuration (properties) -----
  Ref<GTlsDatabase> database;
  Ref<GTlsInteraction> interaction;
  Ref<GTlsCertificate> certificate;  // written through set_certificate()
  // The interaction may set the certificate from its own thread while a
  // blocking handshake waits for it (GIO's invoke functions): the write and
  // the handshake's reads go through one lock.
  void set_certificate(GTlsCertificate *cert);
  Ref<GTlsCertificate> current_certificate();
  Ref<GSocketConnectable> server_identity;  // client only
  GTlsCertificateFlags validation_flags = G_TLS_CERTIFICATE_VALIDATE_ALL;
  GTlsAuthenticationMode authentication_mode = G_TLS_AUTHENTICATION_NONE;  // server only
  bool require_close_notify = true;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GTlsRehandshakeMode rehandshake_mode = G_TLS_REHANDSHAKE_SAFELY;  // deprecated, honoured
  G_GNUC_END_IGNORE_DEPRECATIONS
  std::vector<std::string> advertised_protocols;
  // Ours: protocol versions, cipher suites and priority string (see
  // priority_options.h); read when the session is made.
  PriorityOptions priority_options;
  // DTLS only: the path MTU the handshake fragments to, and how long a
  // handshake may take in all before it fails with G_IO_ERROR_TIMED_OUT.
  static constexpr unsigned kDtlsRetransmitMs = 1000;  // RFC 6347 §4.2.4.1 initial timer
  unsigned dtls_handshake_timeout_ms = 60000;

  // Pre-shared keys (ours; connection_psk.cc). Client: the identity and
  // key offered (psk-required asks for them when the key is unset); server:
  // the identity hint sent in TLS 1.2 (psk-lookup finds keys).
  std::string psk_identity;
  Owned<GBytes *> psk_key;
  std::string psk_identity_hint;

  // The session (nullptr before the first handshake starts).
  gnutls_session_t session() const { return session_.get(); }

  // ----- Results -----
  GTlsCertificate *peer_certificate() const { return peer_certificate_.get(); }
  GTlsCertificateFlags peer_certificate_errors() const { return peer_errors_; }
  const char *negotiated_protocol() const { return negotiated_protocol_.empty() ? nullptr : negotiated_protocol_.c_str(); }
  GTlsProtocolVersion protocol_version() const { return protocol_version_; }
  const char *ciphersuite_name() const { return ciphersuite_.empty() ? nullptr : ciphersuite_.c_str(); }
  // Whether the last handshake resumed a session (our `session-resumed`
  // property, notified when a handshake changes it).
  bool session_resumed() const { return session_resumed_; }
  // accepted-cas (client): a list of GByteArray DNs; (transfer full).
  GList *accepted_cas() const;
  bool get_channel_binding_data(GTlsChannelBindingType type, GByteArray *data, GError **error);
  bool server_end_point(GByteArray *data, GError **error);
  // GTlsClientConnection.copy_session_state.
  void copy_session_state_from(ConnectionCore &source);

  // ----- Operations -----
  bool handshake(GCancellable *cancellable, GError **error);
  void handshake_async(int io_priority, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data, gpointer source_tag);
  // Reads decrypted data. blocking=false returns G_IO_ERROR_WOULD_BLOCK
  // instead of waiting. 0 is end of stream.
  // `timeout_us` bounds a blocking call as a whole, an implicit handshake
  // included (-1: none beyond the transport's own); G_IO_ERROR_TIMED_OUT
  // when it passes (a handshake then goes on in the background).
  gssize read(void *buffer, gsize size, bool blocking, GCancellable *cancellable, GError **error,
              gint64 timeout_us = -1);
  gssize write(const void *buffer, gsize size, bool blocking, GCancellable *cancellable,
               GError **error, gint64 timeout_us = -1);
  // Sends close_notify for the directions given (once each).
  bool shutdown(bool read, bool write, GCancellable *cancellable, GError **error);
  void shutdown_async(bool read, bool write, int io_priority, GCancellable *cancellable,
                      std::function<void(GError *)> done);

  // Ends a handshake suspended in application code (the connection is being
  // closed): it fails as soon as its run dispatches again. Any thread.
  void abort_suspended_handshake();

  // Moves a handshake running in the background to `context` when its own
  // context is not being iterated right now (a source of the connection is
  // about to be polled on `context`). Called from the gate source's prepare.
  void move_background_to(GMainContext *context);

  // Gets past the handshake that `side` needs, as the first read or write
  // would (a blocking call runs it within `deadline_us`, a nonblocking one
  // starts it in the background: G_IO_ERROR_WOULD_BLOCK). For waits on a
  // condition (GDatagramBased condition_wait), which must see it progress.
  bool await_handshake(Side side, bool blocking, gint64 deadline_us, GCancellable *cancellable,
                       GError **error);

  // For pollable streams: whether `side` could progress without waiting, and
  // a source that dispatches when it may.
  bool is_ready(Side side);
  GSource *create_source(Side side, GCancellable *cancellable);

  bool handshake_done() const { return handshake_state_ == HandshakeState::Done; }
  bool read_closed() const { return read_closed_; }
  bool write_closed() const { return write_closed_; }
  // Marks the connection closed for I/O (the base is being closed).
  void mark_closed();
  // Whether the session has ended on a fatal error (see end_session).
  bool session_ended() const { return session_ended_.load(std::memory_order_acquire); }

private:
  // What an explicit handshake on an established connection does.
  enum class Rehandshake { Full, KeyUpdate, Reauth };

  static int verify_cb(gnutls_session_t session) noexcept;
  static int retrieve_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int n_req,
                         const gnutls_pk_algorithm_t *algos, int n_algos, gnutls_pcert_st **pcert,
                         unsigned *pcert_length, gnutls_privkey_t *privkey) noexcept;
  static int handshake_hook_cb(gnutls_session_t session, unsigned htype, unsigned when,
                               unsigned incoming, const gnutls_datum_t *msg) noexcept;

  // Creates and configures the session before the first handshake.
  bool prepare_session(GError **error);
  // Whether this connection offers pre-shared keys (a PSK property is set,
  // or a handler of psk-required / psk-lookup is connected).
  bool psk_offered() const;
  // Gives the session PSK credentials of this connection's own.
  bool prepare_psk(GError **error);
  static int psk_client_cb(gnutls_session_t session, gnutls_datum_t *username,
                           gnutls_datum_t *key) noexcept;
  static int psk_server_cb(gnutls_session_t session, const gnutls_datum_t *username,
                           gnutls_datum_t *key) noexcept;
  // Client: the identity and key to offer (emitting psk-required when no key
  // is set); -1 (psk_error_ set) without a key.
  int supply_psk(gnutls_datum_t *out_username, gnutls_datum_t *out_key);
  // Server: the key of `username` from psk-lookup; -1 when refused.
  int look_up_psk(const gnutls_datum_t *username, gnutls_datum_t *out_key);
  void apply_authentication_mode();
  // Verifies the peer's chain from inside the handshake; 0 accepts.
  int verify_peer();
  GTlsCertificateFlags check_stapled_ocsp(GTlsCertificate *peer);
  int retrieve_certificate(const gnutls_datum_t *req_ca_dn, int n_req, gnutls_pcert_st **pcert,
                           unsigned *pcert_length, gnutls_privkey_t *privkey);
  std::string resumption_key() const;
  std::string server_key() const;
  void store_resumption_data();

  // The handshake step (one gnutls_handshake call) and what follows it.
  StepResult handshake_step(GError **error);
  bool start_rehandshake(GError **error);
  StepResult rehandshake_step(GError **error);
  void finish_handshake();
  void notify_handshake_results(bool resumed_changed);
  void notify_peer_certificate();
  // Claims the handshake role (begin) and runs it in `mode`.
  // *out_joined (when given): the caller waited for an implicit handshake
  // running in the background, which established the connection: nothing
  // is left to do (an explicit handshake then is not a rehandshake).
  bool begin_handshake(bool blocking, GError **error, bool *out_joined = nullptr);
  // Runs the claimed handshake synchronously until it ends or `deadline_us`
  // (monotonic, -1: none) passes. False with an error; *out_step_failed
  // says whether the handshake itself failed (else the wait was cut short:
  // cancelled or out of time, and the handshake may go on).
  bool run_handshake(GCancellable *cancellable, gint64 deadline_us, bool *out_step_failed,
                     GError **error);
  // The step of an async handshake: on the fiber when the handshake may
  // call application code (needs_fiber()).
  StepResult async_handshake_step(GCancellable *cancellable, GError **error);
  static StepResult fiber_step(void *self, GError **error) noexcept;
  bool needs_fiber() const;
  // Makes fiber_ when the handshake about to run asynchronously needs one.
  void ensure_fiber();
  // Runs the claimed handshake as an async run on the thread-default main
  // context with no caller waiting for it (an implicit handshake started by
  // a nonblocking call, or one a timed-out call leaves running). Its result
  // lands in the gate; the connection is kept alive until it ends.
  // `context` null: the thread-default one; `step_now`: its first step in
  // this call.
  void run_handshake_in_background(GMainContext *context = nullptr, bool step_now = true);
  // With mutex_ held (through `lock`) and a background handshake running:
  // stops its async run so that this thread drives it instead. False when
  // it cannot (another thread iterates its context, or it is inside its
  // step or suspended).
  bool take_over_background(std::unique_lock<std::mutex> &lock);
  // Waits on the gate's condition until it changes or `deadline_us` passes
  // (false then).
  bool wait_changed(std::unique_lock<std::mutex> &lock, gint64 deadline_us);
  void conclude_handshake(bool ok, GError *error);
  // `joining`: the task waits for an implicit handshake in the background,
  // whose end completes it.
  void retry_async_handshake_later(GTask *task, bool joining);
  void handshake_async_continue(GTask *task, bool joining = false);
  void handshake_async_start(GTask *task);
  // Turns a GnuTLS error from a handshake or record call into a GError,
  // sending the fatal alert GnuTLS chooses where the peer is still there.
  void set_gnutls_error(int ret, bool during_handshake, GError **error);
  // The number of the last alert received. Kept as a number: a peer may send
  // one that is not a value of gnutls_alert_description_t (e.g. 229), and such
  // a value must never sit in a variable of that enum type.
  static unsigned received_alert(gnutls_session_t session);

  // ----- A server's verdict on our certificate (client; connection_errors.cc) -----
  //
  // Once a server has asked for our certificate, a failure that its absence
  // or rejection explains is reported as G_TLS_ERROR_CERTIFICATE_REQUIRED:
  // a fatal alert saying so (certificate_required, bad_certificate,
  // unsupported_certificate, certificate_revoked, certificate_expired,
  // certificate_unknown, unknown_ca, access_denied, or handshake_failure or
  // decode_error when we sent none), or the server closing or
  // resetting the connection right after our Certificate. In TLS 1.3 the
  // server decides after our handshake has ended, so this holds for the
  // records that follow until the server's first application data; once a
  // read or write has reported the verdict, later ones report it again (the
  // session ended there).

  // Records that the server asked for our certificate and whether we send
  // one (called from retrieve_certificate).
  void note_certificate_request(bool sending);
  // Sets *error to CERTIFICATE_REQUIRED and returns true when the failure
  // `ret` (with the transport's `io_error`, nullable) is the server's verdict
  // on our certificate; false, setting nothing, otherwise.
  bool set_certificate_verdict_error(int ret, bool during_handshake, const GError *io_error,
                                     GError **error);
  // After a write failed because the peer closed (EPIPE, ECONNRESET) while the
  // verdict may be pending: reads, without waiting, what the server sent
  // before closing. True when that was a fatal alert (received_alert() names
  // it; the transport's error is dropped). Skipped (false) while a read runs.
  bool read_closing_alert();
  // For a write that found the session ended (GNUTLS_E_INVALID_SESSION)
  // while the verdict may be pending: a read on another thread met the
  // server's refusal; waits until that read has recorded it.
  void await_verdict();
  // For a write whose buffered output could not go out because the peer
  // closed (a driver flush, not a GnuTLS call): replaces *error as a GnuTLS
  // push error there would be (read_closing_alert, then the verdict).
  void set_closed_write_error(GError **error);

  // One gnutls_bye(GNUTLS_SHUT_WR) call: sends close_notify.
  StepResult close_notify_step(GError **error);

  // The end of a session on a fatal error (RFC 8446 §6.2, RFC 5246 §7.2.2):
  // once a fatal alert was sent or received, or GnuTLS reported any other
  // fatal error, nothing more is written to the peer (no close_notify when
  // the connection closes, no second alert) and every later read, write or
  // handshake fails with the error that ended it. set_gnutls_error raises
  // session_failing_; the operation that failed then stores its error here.
  void end_session(const GError *error);
  // If the session has ended: true, with *error set to a copy of why.
  bool session_ended_error(GError **error);
  // A record read or write failed with `record_error` (taken): ends the
  // session if GnuTLS reported a fatal error, then hands the error on.
  void record_failed(GError *record_error, GError **error);

  // Gate: claim the right to run `side` (running an implicit handshake first
  // when needed). False with an error (G_IO_ERROR_WOULD_BLOCK when
  // nonblocking and it must wait; *out_wait then says for what).
  bool begin_io(Side side, bool blocking, GCancellable *cancellable, gint64 deadline_us, GError **error);
  void end_io(Side side);
  // Runs a record read's or write's `step` to its end: its first step in
  // place (first_step), then the driver, sync or nonblocking, if that did
  // not finish it. False with an error as drive_sync and drive_nonblocking.
  template <typename F>
  bool run_record_step(F &step, bool blocking, Wait *out_wait, gint64 deadline_us,
                       GCancellable *cancellable, GError **error);
  // Recomputes read_open_ and write_open_; with mutex_ held.
  void refresh_gate();
  // Closes the directions given for I/O; with mutex_ held. True when the
  // caller is to send close_notify (once per connection, after a handshake).
  bool close_directions(bool read, bool write);
  // The gate's fast path for a write: true when the write may start.
  bool try_open_write();
  // Marks a renegotiation the server started as running inside reads
  // (writers wait) or finished (writers resume).
  void set_peer_renegotiation(bool running);
  // Application data that arrived during a renegotiation we requested.
  bool has_held_app_data();
  gssize take_held_app_data(void *buffer, gsize size);
  // Claims the handshake role; without blocking, WOULD_BLOCK if another
  // handshake runs.
  bool claim_handshake(bool blocking, GError **error, bool *out_joined = nullptr);
  void release_handshake(HandshakeState outcome, const GError *error);
  // A source that dispatches when the running handshake ends (or at once).
  GSource *gate_source(GCancellable *cancellable);

  GObject *owner_;  // (unowned) the GObject that owns this core
  unsigned id_;     // a process-unique number naming this connection in debug logs
  Role role_;
  bool datagram_;
  std::unique_ptr<Transport> transport_;
  Owned<gnutls_session_t> session_;
  Owned<gnutls_priority_t> own_priority_;  // the session's, when priority_options chose one
  Owned<gnutls_psk_client_credentials_t> psk_client_credentials_;  // when psk_
  Owned<gnutls_psk_server_credentials_t> psk_server_credentials_;  // when psk_
  bool psk_ = false;           // this session offers pre-shared keys
  bool psk_refused_ = false;   // psk-lookup refused the client's identity
  ErrorPtr psk_error_;         // why a PSK callback failed
  Ref<GTlsDatabase> session_database_;  // keeps the server credentials alive
  GCancellable *op_cancellable_ = nullptr;  // (unowned) of the running handshake
  bool rehandshaking_ = false;
  bool server_hello_received_ = false;  // the server's pre-handshake work is done

  Rehandshake rehandshake_kind_ = Rehandshake::Full;
  std::vector<guint8> copied_session_;  // from copy_session_state
  std::string rejected_detail_;          // why verify_peer rejected the peer
  ErrorPtr own_certificate_error_;       // why our certificate could not be used

  std::mutex certificate_mutex_;  // guards `certificate` against set_certificate
  std::mutex app_data_mutex_;
  std::vector<guint8> held_app_data_;  // guarded by app_data_mutex_
  std::atomic<bool> has_held_app_data_{false};  // !held_app_data_.empty()

  std::mutex mutex_;
  std::condition_variable changed_;
  HandshakeState handshake_state_ = HandshakeState::NotStarted;
  bool peer_renegotiation_ = false;  // a HelloRequest is being answered inside reads
  GThread *stepping_thread_ = nullptr;  // (unowned) the thread inside a handshake step
  AsyncRun *background_run_ = nullptr;  // (unowned) the run of a background handshake
  GMainContext *background_context_ = nullptr;  // (owned) where it runs
  unsigned background_generation_ = 0;  // counts background runs started and ended
  std::unique_ptr<HandshakeFiber> fiber_;  // made for the first handshake that needs one
  std::atomic<bool> closing_{false};  // the connection is being closed
  bool rehandshake_pending_ = false;
  // The gate's fast path (see begin_io): whether a read or a write may start
  // at once, derived from the fields above by refresh_gate(), under mutex_.
  std::atomic<bool> read_open_{false};
  std::atomic<bool> write_open_{false};
  std::atomic<bool> writing_{false};      // a write is between begin_io and end_io
  std::atomic<int> writer_waiters_{0};    // threads waiting for writing_ to clear
  ErrorPtr handshake_error_;
  std::vector<GSource *> gate_sources_;  // (owned) woken when the handshake ends
  bool read_closed_ = false;
  bool write_closed_ = false;
  bool sent_close_notify_ = false;
  // The session-end discipline (end_session): set by set_gnutls_error on a
  // fatal GnuTLS error, and by end_session with the error kept for later calls.
  std::atomic<bool> session_failing_{false};
  std::atomic<bool> session_ended_{false};
  ErrorPtr session_error_;  // guarded by mutex_; why the session ended

  Ref<GTlsCertificate> pending_peer_;  // verified in this handshake, not yet published
  GTlsCertificateFlags pending_errors_ = GTlsCertificateFlags(0);
  Ref<GTlsCertificate> peer_certificate_;
  GTlsCertificateFlags peer_errors_ = GTlsCertificateFlags(0);
  std::string negotiated_protocol_;
  GTlsProtocolVersion protocol_version_ = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  std::string ciphersuite_;
  bool session_resumed_ = false;
  std::vector<std::vector<guint8>> accepted_cas_;
  bool certificate_requested_ = false;
  bool certificate_sent_ = false;  // the last certificate request was answered with one
  // The server asked for our certificate in a TLS 1.3 handshake and has sent
  // no application data since: its verdict may still arrive as an alert.
  // Set during the handshake; cleared by a read, under verdict_mutex_.
  std::atomic<bool> verdict_in_records_{false};
  // Held by a read while verdict_in_records_, and by read_closing_alert: one
  // GnuTLS receive at a time.
  std::mutex verdict_mutex_;
  // The verdict a read or write after the handshake reported; later record
  // calls report it again. Guarded by verdict_error_mutex_.
  ErrorPtr verdict_error_;
  std::mutex verdict_error_mutex_;
  gint64 handshake_started_us_ = 0;
};

}  // namespace gtg
