#include "raw_tls.h"

#include <algorithm>
#include <cmath>
#include <poll.h>
#include <unistd.h>

namespace bench::raw {

namespace {

gnutls_certificate_credentials_t server_ecdsa = nullptr;
gnutls_certificate_credentials_t server_rsa = nullptr;
gnutls_certificate_credentials_t client_creds = nullptr;
gnutls_datum_t ticket_key = {nullptr, 0};

bool server_creds(gnutls_certificate_credentials_t *out, const std::string &chain,
                  const std::string &key, std::string *out_error)
{
  gnutls_certificate_allocate_credentials(out);
  int r = gnutls_certificate_set_x509_key_file(*out, chain.c_str(), key.c_str(), GNUTLS_X509_FMT_PEM);
  if (r < 0) {
    *out_error = "loading " + chain + ": " + gnutls_strerror(r);
    return false;
  }
  return true;
}

}  // namespace

bool init(const Certs &certs, std::string *out_error)
{
  if (!server_creds(&server_ecdsa, certs.ecdsa_chain, certs.ecdsa_key, out_error) ||
      !server_creds(&server_rsa, certs.rsa_chain, certs.rsa_key, out_error))
    return false;
  gnutls_certificate_allocate_credentials(&client_creds);
  int r = gnutls_certificate_set_x509_trust_file(client_creds, certs.ca.c_str(), GNUTLS_X509_FMT_PEM);
  if (r <= 0) {
    *out_error = "loading " + certs.ca + ": " + (r < 0 ? gnutls_strerror(r) : "no certificate");
    return false;
  }
  gnutls_session_ticket_key_generate(&ticket_key);
  return true;
}

gnutls_session_t make_session(int fd, const SessionOptions &o)
{
  unsigned flags = (o.server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK;
  if (o.dtls)
    flags |= GNUTLS_DATAGRAM;
  gnutls_session_t s = nullptr;
  if (gnutls_init(&s, flags) < 0)
    return nullptr;
  if (gnutls_priority_set_direct(s, o.priority, nullptr) < 0) {
    gnutls_deinit(s);
    return nullptr;
  }
  if (o.server) {
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, o.key == KeyType::Ecdsa ? server_ecdsa : server_rsa);
    if (o.tickets && !o.dtls)
      gnutls_session_ticket_enable_server(s, &ticket_key);
  } else {
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, client_creds);
    gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(s, "localhost", 0);
  }
  if (o.dtls)
    gnutls_dtls_set_mtu(s, 1500);
  // The session pointer marks DTLS sessions for wait() (retransmission timer).
  gnutls_session_set_ptr(s, o.dtls ? s : nullptr);
  set_nonblocking(fd);
  gnutls_transport_set_int(s, fd);
  return s;
}

bool wait(gnutls_session_t session, int fd, double deadline)
{
  double left_ms = (deadline - now_s()) * 1000;
  if (left_ms <= 0)
    return false;
  int timeout = static_cast<int>(std::ceil(std::min(left_ms, 1e6)));
  short events = gnutls_record_get_direction(session) ? POLLOUT : POLLIN;
  if (gnutls_session_get_ptr(session)) {
    // DTLS: a datagram send does not wait for buffer space, so the session
    // always waits for input, at most until its retransmission timer fires.
    events = POLLIN;
    int dtls_ms = static_cast<int>(gnutls_dtls_get_timeout(session));
    if (dtls_ms < timeout)
      timeout = dtls_ms;
  }
  pollfd p = {fd, events, 0};
  return poll(&p, 1, timeout) >= 0;
}

int handshake(gnutls_session_t session, int fd, double deadline)
{
  for (;;) {
    int r = gnutls_handshake(session);
    if (r == 0)
      return 0;
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(r)) {
      if (now_s() > deadline)
        return GNUTLS_E_TIMEDOUT;
      wait(session, fd, deadline);
      continue;
    }
    return r;
  }
}

bool send_all(gnutls_session_t session, int fd, const void *buf, size_t len, double deadline)
{
  const char *p = static_cast<const char *>(buf);
  while (len > 0) {
    ssize_t r = gnutls_record_send(session, p, len);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
      if (!wait(session, fd, deadline))
        return false;
      continue;
    }
    if (r < 0)
      return false;
    p += r;
    len -= r;
  }
  return true;
}

bool recv_some(gnutls_session_t session, int fd, void *buf, size_t len, double deadline,
               size_t *out_len)
{
  char *p = static_cast<char *>(buf);
  size_t got = 0;
  while (got < len) {
    ssize_t r = gnutls_record_recv(session, p + got, len - got);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
      if (!wait(session, fd, deadline) || now_s() > deadline)
        return false;
      continue;
    }
    if (r <= 0)
      return false;
    got += r;
    if (out_len) {  // datagram mode: one message is enough
      *out_len = got;
      return true;
    }
  }
  return true;
}

void finish(gnutls_session_t session, int fd)
{
  double deadline = now_s() + 0.05;
  for (;;) {
    int r = gnutls_bye(session, GNUTLS_SHUT_WR);
    if ((r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) || !wait(session, fd, deadline))
      break;
  }
  close(fd);
  gnutls_deinit(session);
}

}  // namespace bench::raw
