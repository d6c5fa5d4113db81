#include "raw-tls-peer.h"

#include "connection-harness.h"

#include <gnutls/crypto.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace conn_test {

// ---------------------------------------------------------------------------
// Records

bool parse_records(const std::string &bytes, std::vector<Record> *out)
{
  size_t at = 0;
  while (at + 5 <= bytes.size()) {
    size_t length = (guint8(bytes[at + 3]) << 8) | guint8(bytes[at + 4]);
    if (at + 5 + length > bytes.size())
      return false;
    out->push_back({guint8(bytes[at]), bytes.substr(at + 5, length)});
    at += 5 + length;
  }
  return at == bytes.size();
}

std::string record_header(guint8 type, size_t length)
{
  std::string h;
  h += char(type);
  h += "\x03\x03";
  h += char(length >> 8);
  h += char(length & 0xff);
  return h;
}

std::string handshake_message(guint8 type, const std::string &body)
{
  std::string m;
  m += char(type);
  m += char(body.size() >> 16);
  m += char((body.size() >> 8) & 0xff);
  m += char(body.size() & 0xff);
  return m + body;
}

std::string seal(gnutls_session_t session, bool tls13, guint8 type, const std::string &payload)
{
  gnutls_datum_t mac_key, iv, key;
  unsigned char seq[8];
  g_assert_cmpint(gnutls_record_get_state(session, 0, &mac_key, &iv, &key, seq), ==, 0);
  gnutls_aead_cipher_hd_t aead = nullptr;
  g_assert_cmpint(gnutls_aead_cipher_init(&aead, GNUTLS_CIPHER_AES_128_GCM, &key), ==, 0);
  guint8 nonce[12];
  std::string plain, aad, prefix;
  if (tls13) {
    // RFC 8446 §5.2-5.3: the inner type after the content; the record
    // header is the additional data; the nonce is the IV xor the sequence.
    g_assert_cmpuint(iv.size, ==, 12);
    memcpy(nonce, iv.data, 12);
    for (int i = 0; i < 8; i++)
      nonce[4 + i] ^= seq[i];
    plain = payload + char(type);
    aad = record_header(23, plain.size() + 16);
    prefix = aad;
  } else {
    // RFC 5288: implicit salt and explicit nonce (the sequence number);
    // the additional data is sequence, type, version and plaintext length.
    g_assert_cmpuint(iv.size, >=, 4);
    memcpy(nonce, iv.data, 4);
    memcpy(nonce + 4, seq, 8);
    plain = payload;
    aad = std::string(reinterpret_cast<char *>(seq), 8) + record_header(type, plain.size());
    prefix = record_header(type, 8 + plain.size() + 16) + std::string(reinterpret_cast<char *>(seq), 8);
  }
  std::string sealed(plain.size() + 16, '\0');
  size_t sealed_len = sealed.size();
  g_assert_cmpint(gnutls_aead_cipher_encrypt(aead, nonce, sizeof nonce, aad.data(), aad.size(), 16,
                                             plain.data(), plain.size(), sealed.data(), &sealed_len),
                  ==, 0);
  gnutls_aead_cipher_deinit(aead);
  g_assert_cmpuint(sealed_len, ==, sealed.size());
  return prefix + sealed;
}

// ---------------------------------------------------------------------------
// The peer

RawTls::RawTls(int socket_fd, bool server, const char *priority) : fd_(socket_fd)
{
  gnutls_certificate_allocate_credentials(&creds_);
  if (server)
    g_assert_cmpint(gnutls_certificate_set_x509_key_file(creds_, data_path("server-chain.pem").c_str(),
                                                         data_path("server-key.pem").c_str(),
                                                         GNUTLS_X509_FMT_PEM),
                    >=, 0);
  gnutls_init(&session_, server ? GNUTLS_SERVER : GNUTLS_CLIENT);
  const char *err = nullptr;
  g_assert_cmpint(gnutls_priority_set_direct(session_, priority, &err), ==, 0);
  gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, creds_);
  if (!server)
    gnutls_server_name_set(session_, GNUTLS_NAME_DNS, "localhost", strlen("localhost"));
  gnutls_session_set_ptr(session_, this);
  gnutls_transport_set_ptr(session_, this);
  gnutls_transport_set_pull_function(session_, pull);
  gnutls_transport_set_push_function(session_, push);
  // GnuTLS's default would take the transport pointer for a descriptor.
  gnutls_transport_set_pull_timeout_function(session_, pull_timeout);
  gnutls_handshake_set_hook_function(session_, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
                                     on_finished);
  gnutls_handshake_set_timeout(session_, kRawPeerWaitMs);
  gnutls_record_set_timeout(session_, kRawPeerWaitMs);
}

RawTls::~RawTls()
{
  gnutls_deinit(session_);
  gnutls_certificate_free_credentials(creds_);
  close(fd_);
}

int RawTls::handshake()
{
  int ret = GNUTLS_E_AGAIN;
  for (int i = 0; i < 1000 && ret < 0 && !gnutls_error_is_fatal(ret); i++)
    ret = gnutls_handshake(session_);
  return ret;
}

bool RawTls::read_to_eof()
{
  for (int i = 0; i < 10000; i++) {
    char buf[4096];
    ssize_t n = pull(this, buf, sizeof buf);
    if (n == 0)
      return true;
    if (n < 0)
      return false;
  }
  return false;
}

ssize_t RawTls::pull(gnutls_transport_ptr_t p, void *data, size_t size) noexcept
{
  auto *self = static_cast<RawTls *>(p);
  pollfd pfd{self->fd_, POLLIN, 0};
  if (poll(&pfd, 1, kRawPeerWaitMs) != 1) {
    errno = ETIMEDOUT;
    return -1;
  }
  ssize_t n = recv(self->fd_, data, size, 0);
  if (n > 0)
    self->log_.append(static_cast<char *>(data), size_t(n));
  return n;
}

int RawTls::pull_timeout(gnutls_transport_ptr_t p, unsigned ms) noexcept
{
  pollfd pfd{static_cast<RawTls *>(p)->fd_, POLLIN, 0};
  return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? kRawPeerWaitMs : int(ms));
}

ssize_t RawTls::push(gnutls_transport_ptr_t p, const void *data, size_t size) noexcept
{
  auto *self = static_cast<RawTls *>(p);
  std::string bytes(static_cast<const char *>(data), size);
  if (self->corrupt_next_ && size > 5) {
    bytes.back() ^= 0x01;
    self->corrupt_next_ = false;
  }
  return send(self->fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

int RawTls::on_finished(gnutls_session_t s, unsigned, unsigned, unsigned incoming,
                        const gnutls_datum_t *msg) noexcept
{
  auto *self = static_cast<RawTls *>(gnutls_session_get_ptr(s));
  if (!incoming)
    self->own_finished_.assign(reinterpret_cast<const char *>(msg->data), msg->size);
  return 0;
}

}  // namespace conn_test
