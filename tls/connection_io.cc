// ConnectionCore, second part: the gate, records, close and results
// (reading, writing, shutting down, and what a finished handshake reports).
// The first part, connection_core.cc, creates the session and runs the
// handshake; the third, connection_certificates.cc, verifies the peer's
// certificate and chooses ours; the fourth, connection_errors.cc, turns GnuTLS
// errors into GErrors. The class is in connection_core.h.
#include "connection_core.h"

#include "certificate.h"

#include <glib/gi18n-lib.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/x509.h>

#include <algorithm>
#include <cstring>

namespace gtg {

// ----- The gate -----
//
// On an established connection every read and write passes the gate, so it
// has a fast path without the mutex: read_open_ and write_open_ say whether
// an operation may start at once. The one thing that waits for operations
// to leave is a renegotiation the peer starts (set_peer_renegotiation), and it
// waits only for writers: a writer announces itself in writing_ and then
// checks write_open_ again, while the renegotiation clears write_open_ and
// then checks writing_. Both are sequentially consistent, so one of the two
// sees the other.

void ConnectionCore::refresh_gate()
{
  bool done = handshake_state_ == HandshakeState::Done;
  read_open_.store(done && !read_closed_);
  write_open_.store(done && !write_closed_ && !peer_renegotiation_);
}

bool ConnectionCore::try_open_write()
{
  if (!write_open_.load(std::memory_order_acquire))
    return false;
  writing_.store(true);
  if (write_open_.load())
    return true;
  end_io(Side::Write);  // closed meanwhile: the slow path decides
  return false;
}

bool ConnectionCore::begin_io(Side side, bool blocking, GCancellable *cancellable, gint64 deadline_us,
                              GError **error)
{
  if (side == Side::Read ? read_open_.load(std::memory_order_acquire) : try_open_write())
    return true;
  for (;;) {
    bool took_over = false;
    {
      std::unique_lock lock(mutex_);
      if ((side == Side::Read && read_closed_) || (side == Side::Write && write_closed_)) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("Connection is closed"));
        return false;
      }
      switch (handshake_state_) {
      case HandshakeState::Done:
        if (side == Side::Write && peer_renegotiation_) {
          // No application data while the read side renegotiates.
          if (!blocking) {
            g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
            return false;
          }
          changed_.wait(lock);
          continue;
        }
        if (rehandshake_pending_ && !blocking) {
          g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
          return false;
        }
        if (side == Side::Write)
          writing_.store(true);
        return true;
      case HandshakeState::Failed:
        if (handshake_error_)
          g_propagate_error(error, g_error_copy(handshake_error_.get()));
        else
          g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, _("The TLS handshake failed"));
        return false;
      case HandshakeState::Running:
        // A nonblocking caller never waits: a background handshake goes on
        // by itself, from its main context.
        if (!blocking) {
          g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
          return false;
        }
        if (g_cancellable_set_error_if_cancelled(cancellable, error))
          return false;
        if (take_over_background(lock)) {
          took_over = true;
          break;
        }
        if (!wait_changed(lock, deadline_us)) {
          g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
          return false;
        }
        continue;
      case HandshakeState::NotStarted:
        break;  // the first read or write handshakes implicitly
      }
    }
    if (took_over) {
      g_object_unref(owner_);  // the background run's reference; our caller holds one
    } else if (!blocking) {
      // Implicit handshake for a nonblocking call: it runs by itself on the
      // caller's main context (glib-networking runs it in a thread), and
      // this call and the next ones would block until it is over.
      if (!begin_handshake(false, error))
        return false;
      run_handshake_in_background();
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
      return false;
    } else if (!begin_handshake(true, error)) {
      return false;
    }
    // Implicit handshake, run by this blocking operation within its time.
    GError *local = nullptr;
    bool step_failed = false;
    bool ok = run_handshake(cancellable, deadline_us, &step_failed, &local);
    if (!ok && !step_failed && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
      // Out of this call's time: the handshake goes on in the background.
      run_handshake_in_background();
      g_propagate_error(error, local);
      return false;
    }
    conclude_handshake(ok, local);
    if (!ok) {
      g_propagate_error(error, local);
      return false;
    }
  }
}

bool ConnectionCore::await_handshake(Side side, bool blocking, gint64 deadline_us,
                                     GCancellable *cancellable, GError **error)
{
  if (!begin_io(side, blocking, cancellable, deadline_us, error))
    return false;
  end_io(side);
  return true;
}

void ConnectionCore::end_io(Side side)
{
  if (side == Side::Read)
    return;
  writing_.store(false);
  if (writer_waiters_.load() == 0)
    return;
  // A waiter checked writing_ under the mutex before it slept: taking the
  // mutex here means it is asleep, so the notification reaches it.
  { std::lock_guard lock(mutex_); }
  changed_.notify_all();
}

namespace {

// The gate's source: dispatches when the running handshake ends. Before
// each poll it brings a background handshake to the context it is
// attached to, so that an application that waits only on this source
// sees the handshake progress whichever context it iterates.
struct GateSource {
  GSource base;
  GObject *owner;  // (owned) keeps the core alive
  ConnectionCore *core;
};

gboolean gate_source_prepare(GSource *source, gint *timeout) noexcept
{
  auto *gate = reinterpret_cast<GateSource *>(source);
  *timeout = -1;
  gate->core->move_background_to(g_source_get_context(source));
  return FALSE;
}

GSourceFuncs gate_source_funcs = {
    gate_source_prepare,
    nullptr,
    [](GSource *, GSourceFunc callback, gpointer data) noexcept -> gboolean {
      return callback ? callback(data) : G_SOURCE_REMOVE;
    },
    [](GSource *source) noexcept { g_object_unref(reinterpret_cast<GateSource *>(source)->owner); },
    invoke_plain_closure,
    nullptr,
};

}  // namespace

GSource *ConnectionCore::gate_source(GCancellable *cancellable)
{
  GSource *source = g_source_new(&gate_source_funcs, sizeof(GateSource));
  g_source_set_static_name(source, "GioTlsGnutls gate");
  reinterpret_cast<GateSource *>(source)->owner = G_OBJECT(g_object_ref(owner_));
  reinterpret_cast<GateSource *>(source)->core = this;
  {
    std::lock_guard lock(mutex_);
    if (handshake_state_ == HandshakeState::Running || peer_renegotiation_)
      gate_sources_.push_back(static_cast<GSource *>(g_source_ref(source)));
    else
      g_source_set_ready_time(source, 0);
  }
  if (cancellable) {
    GSource *cancel = g_cancellable_source_new(cancellable);
    g_source_set_dummy_callback(cancel);
    g_source_add_child_source(source, cancel);
    g_source_unref(cancel);
  }
  return source;
}

// ----- Records -----

bool ConnectionCore::has_held_app_data()
{
  return has_held_app_data_.load(std::memory_order_acquire);
}

gssize ConnectionCore::take_held_app_data(void *buffer, gsize size)
{
  if (!has_held_app_data())
    return 0;
  std::lock_guard lock(app_data_mutex_);
  gsize n = std::min(size, held_app_data_.size());
  if (n == 0)
    return 0;
  memcpy(buffer, held_app_data_.data(), n);
  held_app_data_.erase(held_app_data_.begin(), held_app_data_.begin() + static_cast<long>(n));
  has_held_app_data_.store(!held_app_data_.empty(), std::memory_order_release);
  return static_cast<gssize>(n);
}

void ConnectionCore::set_peer_renegotiation(bool running)
{
  std::vector<GSource *> sources;
  {
    std::unique_lock lock(mutex_);
    peer_renegotiation_ = running;
    refresh_gate();
    if (running) {
      // A writer of another thread may be inside gnutls_record_send; GnuTLS
      // must not change keys under it. Writers only wait for flow control.
      writer_waiters_.fetch_add(1);
      changed_.wait(lock, [this] { return !writing_.load(); });
      writer_waiters_.fetch_sub(1);
      return;
    }
    sources.swap(gate_sources_);
  }
  changed_.notify_all();
  for (GSource *source : sources) {
    g_source_set_ready_time(source, 0);
    g_source_unref(source);
  }
}

template <typename F>
bool ConnectionCore::run_record_step(F &step, bool blocking, Wait *out_wait, gint64 deadline_us,
                                     GCancellable *cancellable, GError **error)
{
  bool step_done = false;
  switch (first_step(*transport_, step, cancellable, error)) {
  case StepOutcome::Complete:
    return true;
  case StepOutcome::Failed:
  case StepOutcome::Suspended:  // record steps never suspend
    return false;
  case StepOutcome::Flush:
    step_done = true;
    break;
  case StepOutcome::Again:
    break;
  }
  gint64 timeout_us = deadline_us < 0 ? -1 : std::max<gint64>(deadline_us - g_get_monotonic_time(), 0);
  return blocking ? drive_sync(*transport_, step, timeout_us, cancellable, error, step_done)
                  : drive_nonblocking(*transport_, step, out_wait, error, step_done);
}

gssize ConnectionCore::read(void *buffer, gsize size, bool blocking, GCancellable *cancellable,
                            GError **error, gint64 timeout_us)
{
  Wait wait = Wait::Readable;
  // A timeout bounds the whole call, an implicit handshake included.
  gint64 deadline_us = blocking && timeout_us > 0 ? g_get_monotonic_time() + timeout_us : -1;
  if (!begin_io(Side::Read, blocking, cancellable, deadline_us, error))
    return -1;
  if (session_ended_error(error)) {
    end_io(Side::Read);
    return -1;
  }
  if (gssize held = take_held_app_data(buffer, size); held > 0) {
    end_io(Side::Read);
    return held;
  }
  gssize result = -1;
  // While a TLS 1.3 server may still refuse our certificate, a write that
  // finds the connection closed reads the server's alert: not during this read.
  std::unique_lock<std::mutex> verdict_lock;
  if (verdict_in_records_.load(std::memory_order_acquire))
    verdict_lock = std::unique_lock(verdict_mutex_);
  transport_->set_input_mode(blocking, cancellable);
  auto step = [&](GError **e) -> StepResult {
    for (;;) {
      if (peer_renegotiation_) {
        // The server asked for renegotiation (TLS 1.2): it runs inside reads,
        // across nonblocking calls, until done.
        StepResult r = handshake_step(e);
        if (r != StepResult::Done)
          return r;
        set_peer_renegotiation(false);
        finish_handshake();
      }
      ssize_t n = gnutls_record_recv(session_.get(), buffer, size);
      if (n >= 0) {
        if (n == 0 && size > 0)
          g_debug("Connection %u: received close_notify", id_);
        result = n;
        return StepResult::Done;
      }
      switch (n) {
      case GNUTLS_E_AGAIN:
        return StepResult::Again;
      case GNUTLS_E_INTERRUPTED:
      case GNUTLS_E_WARNING_ALERT_RECEIVED:
        continue;
      case GNUTLS_E_REHANDSHAKE:
        if (rehandshake_mode == G_TLS_REHANDSHAKE_NEVER) {
          gnutls_alert_send(session_.get(), GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
          continue;
        }
        set_peer_renegotiation(true);
        continue;
      case GNUTLS_E_PREMATURE_TERMINATION:
        if (set_certificate_verdict_error(static_cast<int>(n), false, nullptr, e))
          return StepResult::Failed;
        if (!require_close_notify) {
          result = 0;
          return StepResult::Done;
        }
        g_set_error_literal(e, G_TLS_ERROR, G_TLS_ERROR_EOF, _("TLS connection closed unexpectedly"));
        return StepResult::Failed;
      default:
        set_gnutls_error(static_cast<int>(n), false, e);
        return StepResult::Failed;
      }
    }
  };
  GError *local = nullptr;
  bool ok = run_record_step(step, blocking, &wait, deadline_us, cancellable, &local);
  if (verdict_lock.owns_lock() && ok && result > 0)
    verdict_in_records_.store(false, std::memory_order_release);  // the server accepted us
  if (!ok)
    record_failed(local, error);
  end_io(Side::Read);
  return ok ? result : -1;
}

gssize ConnectionCore::write(const void *buffer, gsize size, bool blocking,
                             GCancellable *cancellable, GError **error, gint64 timeout_us)
{
  Wait wait = Wait::Writable;
  // A timeout bounds the whole call, an implicit handshake included.
  gint64 deadline_us = blocking && timeout_us > 0 ? g_get_monotonic_time() + timeout_us : -1;
  if (!begin_io(Side::Write, blocking, cancellable, deadline_us, error))
    return -1;
  if (session_ended_error(error)) {
    end_io(Side::Write);
    return -1;
  }
  // Output still buffered from an earlier write is flushed by the driver
  // before this record is taken (WOULD_BLOCK if it cannot go yet).
  gssize result = -1;
  auto step = [&](GError **e) -> StepResult {
    for (;;) {
      ssize_t n = gnutls_record_send(session_.get(), buffer, size);
      if (n >= 0) {
        result = n;
        return StepResult::Done;
      }
      if (n == GNUTLS_E_AGAIN)
        return StepResult::Again;
      if (n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n == GNUTLS_E_LARGE_PACKET) {
        g_set_error_literal(e, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                            _("Message is too large for the DTLS connection"));
        return StepResult::Failed;
      }
      if (n == GNUTLS_E_PUSH_ERROR && read_closing_alert())
        n = GNUTLS_E_FATAL_ALERT_RECEIVED;  // what the server said before it closed
      else if (n == GNUTLS_E_INVALID_SESSION)
        await_verdict();  // a read met the server's refusal first
      set_gnutls_error(static_cast<int>(n), false, e);
      return StepResult::Failed;
    }
  };
  GError *local = nullptr;
  bool ok = run_record_step(step, blocking, &wait, deadline_us, cancellable, &local);
  if (!ok) {
    set_closed_write_error(&local);  // the driver's flush met a server that refused us
    record_failed(local, error);
  }
  if (ok && !blocking)
    flush_in_background(*transport_, owner_);
  end_io(Side::Write);
  return ok ? result : -1;
}

bool ConnectionCore::is_ready(Side side)
{
  {
    std::lock_guard lock(mutex_);
    if ((side == Side::Read && read_closed_) || (side == Side::Write && write_closed_))
      return true;  // the operation fails at once
    if (handshake_state_ == HandshakeState::Failed)
      return true;
    if (session_ended())
      return true;  // the operation fails at once
    if (handshake_state_ == HandshakeState::Running)
      return false;
    if (handshake_state_ != HandshakeState::Done)
      return false;
  }
  if (side == Side::Write && peer_renegotiation_)
    return false;
  if (side == Side::Read && has_held_app_data())
    return true;
  if (side == Side::Read)
    return gnutls_record_check_pending(session_.get()) > 0 || transport_->has_buffered_input() ||
           transport_->base_ready(Wait::Readable);
  return !transport_->has_pending_output() && transport_->base_ready(Wait::Writable);
}

GSource *ConnectionCore::create_source(Side side, GCancellable *cancellable)
{
  {
    std::lock_guard lock(mutex_);
    bool busy = handshake_state_ == HandshakeState::Running ||
                (side == Side::Write && peer_renegotiation_);
    if (!busy) {
      Wait wait = side == Side::Read ? Wait::Readable : Wait::Writable;
      if (handshake_state_ == HandshakeState::NotStarted)
        wait = Wait::Writable;  // ready at once: the operation starts the handshake
      if (transport_->has_pending_output())
        wait = Wait::Writable;
      bool ready_now = handshake_state_ == HandshakeState::Failed || session_ended() ||
                       (side == Side::Read ? read_closed_ : write_closed_) ||
                       (handshake_state_ == HandshakeState::Done && side == Side::Read &&
                        (has_held_app_data() || gnutls_record_check_pending(session_.get()) > 0 ||
                         transport_->has_buffered_input()));
      if (!ready_now)
        return transport_->create_source(wait, cancellable);
    }
  }
  return gate_source(cancellable);
}

// ----- Close -----

StepResult ConnectionCore::close_notify_step(GError **error)
{
  int ret = gnutls_bye(session_.get(), GNUTLS_SHUT_WR);
  if (ret == GNUTLS_E_AGAIN)
    return StepResult::Again;
  if (ret < 0) {
    set_gnutls_error(ret, false, error);
    return StepResult::Failed;
  }
  g_debug("Connection %u: sent close_notify", id_);
  return StepResult::Done;
}

bool ConnectionCore::shutdown(bool read, bool write, GCancellable *cancellable, GError **error)
{
  abort_suspended_handshake();
  bool send_bye = false;
  {
    std::lock_guard lock(mutex_);
    if (handshake_state_ == HandshakeState::Running && stepping_thread_ == g_thread_self()) {
      // Called from inside the handshake (an accept-certificate handler):
      // closing now would pull the session from under GnuTLS.
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                          _("Cannot close the connection from inside its own handshake"));
      return false;
    }
    send_bye = close_directions(read, write);
  }
  if (!send_bye)
    return true;
  transport_->set_input_mode(true, cancellable);
  auto step = [this](GError **e) { return close_notify_step(e); };
  return drive_sync(*transport_, step, -1, cancellable, error);
}

void ConnectionCore::shutdown_async(bool read, bool write, int io_priority,
                                    GCancellable *cancellable, std::function<void(GError *)> done)
{
  abort_suspended_handshake();
  bool send_bye = false;
  {
    std::lock_guard lock(mutex_);
    send_bye = close_directions(read, write);
  }
  Step step = [this, send_bye](GError **e) {
    return send_bye ? close_notify_step(e) : StepResult::Done;
  };
  drive_async(*transport_, std::move(step), io_priority, cancellable, std::move(done));
}

bool ConnectionCore::close_directions(bool read, bool write)
{
  // After a fatal alert nothing more goes to the peer (end_session).
  bool send_bye = write && !write_closed_ && handshake_state_ == HandshakeState::Done &&
                  !sent_close_notify_ && !session_ended();
  if (send_bye)
    sent_close_notify_ = true;
  read_closed_ = read_closed_ || read;
  write_closed_ = write_closed_ || write;
  refresh_gate();
  return send_bye;
}

void ConnectionCore::end_session(const GError *error)
{
  // A failure of the operation itself (it would block, was cancelled or
  // timed out) says nothing about the session: the operation that met the
  // fatal error, maybe on another thread, ends it with its own error.
  if (!error || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
      g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return;
  std::lock_guard lock(mutex_);
  if (session_ended_.load())
    return;
  session_error_.reset(g_error_copy(error));
  session_ended_.store(true, std::memory_order_release);
  g_debug("Connection %u: session ended: %s", id_, error->message);
}

void ConnectionCore::record_failed(GError *record_error, GError **error)
{
  if (session_failing_.load()) {
    end_session(record_error);
    // A renegotiation the peer started inside reads is over too: writers
    // waiting for it go on, and fail with the stored error.
    if (session_ended() && peer_renegotiation_)
      set_peer_renegotiation(false);
  }
  g_propagate_error(error, record_error);
}

bool ConnectionCore::session_ended_error(GError **error)
{
  if (!session_ended())
    return false;
  std::lock_guard lock(mutex_);
  g_propagate_error(error, g_error_copy(session_error_.get()));
  return true;
}

void ConnectionCore::mark_closed()
{
  abort_suspended_handshake();
  std::lock_guard lock(mutex_);
  read_closed_ = write_closed_ = true;
  refresh_gate();
}

// ----- Results -----

GList *ConnectionCore::accepted_cas() const
{
  GList *list = nullptr;
  for (const auto &dn : accepted_cas_) {
    GByteArray *a = g_byte_array_sized_new(static_cast<guint>(dn.size()));
    g_byte_array_append(a, dn.data(), static_cast<guint>(dn.size()));
    list = g_list_prepend(list, a);
  }
  return g_list_reverse(list);
}

bool ConnectionCore::get_channel_binding_data(GTlsChannelBindingType type, GByteArray *data,
                                              GError **error)
{
  if (!session_ || handshake_state_ != HandshakeState::Done) {
    g_set_error_literal(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_INVALID_STATE,
                        _("The handshake is not complete"));
    return false;
  }
  gnutls_channel_binding_t cb;
  switch (type) {
  case G_TLS_CHANNEL_BINDING_TLS_UNIQUE:
    cb = GNUTLS_CB_TLS_UNIQUE;
    if (gnutls_protocol_get_version(session_.get()) == GNUTLS_TLS1_3) {
      g_set_error_literal(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_SUPPORTED,
                          _("tls-unique binding is not defined for TLS 1.3"));
      return false;
    }
    break;
  case G_TLS_CHANNEL_BINDING_TLS_SERVER_END_POINT:
    return server_end_point(data, error);
  case G_TLS_CHANNEL_BINDING_TLS_EXPORTER:
    cb = GNUTLS_CB_TLS_EXPORTER;
    break;
  default:
    g_set_error_literal(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_IMPLEMENTED,
                        _("This channel binding type is not implemented"));
    return false;
  }
  gnutls_datum_t out{nullptr, 0};
  int ret = gnutls_session_channel_binding(session_.get(), cb, &out);
  if (ret < 0) {
    g_set_error(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_SUPPORTED,
                _("Channel binding data is not available: %s"), gnutls_strerror(ret));
    return false;
  }
  if (data)
    g_byte_array_append(data, out.data, out.size);
  gnutls_free(out.data);
  return true;
}

// RFC 5929 §4.1: the hash of the server's certificate, with the hash of its
// signature algorithm (SHA-256 for MD5 and SHA-1). Computed here, from our
// own certificate on a server and the peer's on a client, so that it is
// also available on a resumed session.
bool ConnectionCore::server_end_point(GByteArray *data, GError **error)
{
  GTlsCertificate *cert = role_ == Role::Server ? certificate.get() : peer_certificate_.get();
  gnutls_x509_crt_t crt = cert ? certificate_get_x509(cert) : nullptr;
  GnutlsBuffer der;
  if (!crt || gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der.out()) < 0) {
    g_set_error_literal(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_AVAILABLE,
                        _("The server certificate is not available"));
    return false;
  }
  int sign = gnutls_x509_crt_get_signature_algorithm(crt);
  gnutls_digest_algorithm_t hash =
      sign >= 0 ? gnutls_sign_get_hash_algorithm(static_cast<gnutls_sign_algorithm_t>(sign))
                : GNUTLS_DIG_UNKNOWN;
  if (hash == GNUTLS_DIG_MD5 || hash == GNUTLS_DIG_SHA1 || hash == GNUTLS_DIG_UNKNOWN)
    hash = GNUTLS_DIG_SHA256;
  unsigned len = gnutls_hash_get_len(hash);
  guint8 digest[64];
  if (len == 0 || len > sizeof digest ||
      gnutls_hash_fast(hash, der.datum.data, der.datum.size, digest) < 0) {
    g_set_error_literal(error, G_TLS_CHANNEL_BINDING_ERROR, G_TLS_CHANNEL_BINDING_ERROR_NOT_SUPPORTED,
                        _("The server certificate's signature hash is not supported"));
    return false;
  }
  if (data)
    g_byte_array_append(data, digest, len);
  return true;
}

void ConnectionCore::copy_session_state_from(ConnectionCore &source)
{
  if (!source.session_)
    return;
  GnutlsBuffer data;
  if (gnutls_session_get_data2(source.session_.get(), data.out()) != GNUTLS_E_SUCCESS)
    return;
  copied_session_.assign(data.datum.data, data.datum.data + data.datum.size);
}

}  // namespace gtg
