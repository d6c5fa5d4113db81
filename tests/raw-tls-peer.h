// A raw TLS peer for the conformance tests (test-conformance.cc): a GnuTLS
// session on a plain blocking socket, driven from the test's own thread,
// that logs every byte it receives and can send records GnuTLS would never
// send (a wrong tag, a record sealed by hand), so that a test can parse at
// the record layer what the module under test wrote back. Every wait is
// bounded by kRawPeerWaitMs. Failures of its own setup are g_assert failures.
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

#include <string>
#include <vector>

namespace conn_test {

constexpr int kRawPeerWaitMs = 10000;  // the bound of every wait of a raw peer

// ---------------------------------------------------------------------------
// Records

// One TLS record as it was on the wire.
struct Record {
  guint8 type;
  std::string body;
};

// Splits `bytes` into records; false if they do not end on a record boundary.
bool parse_records(const std::string &bytes, std::vector<Record> *out);

// A TLS 1.2-style record header (version 3,3) of `type` for `length` bytes.
std::string record_header(guint8 type, size_t length);

// A handshake message: type, 24-bit length, body.
std::string handshake_message(guint8 type, const std::string &body);

// `payload` as a record of `type` protected with the session's current write
// keys, as GnuTLS would send it next (TLS 1.3 with `tls13`, else TLS 1.2).
// The session must use AES-128-GCM; its own sequence number does not move.
std::string seal(gnutls_session_t session, bool tls13, guint8 type, const std::string &payload);

// ---------------------------------------------------------------------------
// The peer

class RawTls {
 public:
  // A session over `socket_fd` (taken: closed with the peer): a server with
  // the test server's chain and key, or a client naming localhost that
  // verifies nothing; `priority` is a GnuTLS priority string.
  RawTls(int socket_fd, bool server, const char *priority);
  ~RawTls();
  RawTls(const RawTls &) = delete;
  RawTls &operator=(const RawTls &) = delete;

  // Runs the handshake; GnuTLS's result.
  int handshake();
  // Reads the raw socket until end of stream (true) or kRawPeerWaitMs of
  // silence (false); what it reads goes to log().
  bool read_to_eof();

  gnutls_session_t session() const { return session_; }
  int fd() const { return fd_; }
  // Every byte received from the other end, as it came.
  const std::string &log() const { return log_; }
  // The body of the Finished message this peer sent.
  const std::string &own_finished() const { return own_finished_; }
  // Flips the last byte (of the tag) of the next record this peer sends.
  void corrupt_next_record() { corrupt_next_ = true; }

 private:
  static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t size) noexcept;
  static int pull_timeout(gnutls_transport_ptr_t p, unsigned ms) noexcept;
  static ssize_t push(gnutls_transport_ptr_t p, const void *data, size_t size) noexcept;
  static int on_finished(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                         const gnutls_datum_t *msg) noexcept;

  int fd_;
  gnutls_session_t session_ = nullptr;
  gnutls_certificate_credentials_t creds_ = nullptr;
  std::string log_;
  bool corrupt_next_ = false;
  std::string own_finished_;
};

}  // namespace conn_test
