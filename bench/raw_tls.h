// Raw GnuTLS endpoints for the benchmark: sessions on non-blocking sockets
// that wait with poll() in the direction gnutls_record_get_direction() names
// (and, for DTLS, no longer than gnutls_dtls_get_timeout()), which is how a
// careful GnuTLS application drives I/O. Credentials are built once per
// process and shared, as such an application would. Used by raw_workloads.cc
// and by the resumption probes in gio_workloads.cc; any thread, one session
// per thread at a time.
#pragma once

#include "common.h"

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

namespace bench::raw {

// Loads the credentials from `certs`; false with a message on failure.
// Call once, before any session is made.
bool init(const Certs &certs, std::string *out_error);

struct SessionOptions {
  bool server = false;
  bool dtls = false;
  KeyType key = KeyType::Ecdsa;  // server certificate
  const char *priority = "NORMAL";
  bool tickets = true;           // server: issue TLS 1.3 session tickets
};

// A session on `fd` (made non-blocking here); nullptr on failure.
gnutls_session_t make_session(int fd, const SessionOptions &options);

// Waits until `session` can make progress or `deadline` (now_s()) passes.
// False on timeout or poll failure.
bool wait(gnutls_session_t session, int fd, double deadline);

// Runs the handshake to completion; 0, a GnuTLS error code, or
// GNUTLS_E_TIMEDOUT when `deadline` passes.
int handshake(gnutls_session_t session, int fd, double deadline);
// Sends all of buf (one record per call for DTLS); false on error/timeout.
bool send_all(gnutls_session_t session, int fd, const void *buf, size_t len, double deadline);
// Receives exactly len bytes (TLS) or one datagram of at most len (DTLS,
// *out_len set); false on error, EOF or timeout.
bool recv_some(gnutls_session_t session, int fd, void *buf, size_t len, double deadline,
               size_t *out_len);
// Sends close_notify (best effort, bounded), closes fd and frees the session.
void finish(gnutls_session_t session, int fd);

}  // namespace bench::raw
