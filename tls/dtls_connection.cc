#include "dtls_connection.h"

#include "database.h"
#include "connection_properties.h"
#include "gtype_macros.h"

#include <glib/gi18n-lib.h>
#include <gnutls/dtls.h>

#include <cstring>
#include <vector>

enum {
  PROP_0,
  PROP_BASE_SOCKET,
  PROP_CERTIFICATE,
  PROP_DATABASE,
  PROP_INTERACTION,
  PROP_PEER_CERTIFICATE,
  PROP_PEER_CERTIFICATE_ERRORS,
  PROP_REQUIRE_CLOSE_NOTIFY,
  PROP_REHANDSHAKE_MODE,
  PROP_ADVERTISED_PROTOCOLS,
  PROP_NEGOTIATED_PROTOCOL,
  PROP_PROTOCOL_VERSION,
  PROP_CIPHERSUITE_NAME,
  PROP_MTU,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_SESSION_RESUMED,
  PROP_RETRANSMISSIONS,
  PROP_MIN_PROTOCOL_VERSION,
  PROP_MAX_PROTOCOL_VERSION,
  PROP_CIPHERSUITES,
  PROP_PRIORITY,
  N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void datagram_based_init(GDatagramBasedInterface *iface) noexcept;
static void dtls_connection_iface_init(GDtlsConnectionInterface *iface) noexcept;
static void initable_iface_init(GInitableIface *iface) noexcept;

GTG_DEFINE_TYPE(GtgDtlsConnection, gtg_dtls_connection, G_TYPE_OBJECT, G_TYPE_FLAG_ABSTRACT,
                GTG_TYPE_NAME("DtlsConnection"),
                G_IMPLEMENT_INTERFACE(G_TYPE_DATAGRAM_BASED, datagram_based_init)
                G_IMPLEMENT_INTERFACE(G_TYPE_DTLS_CONNECTION, dtls_connection_iface_init)
                G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, initable_iface_init))

namespace gtg {

ConnectionCore *dtls_connection_core(gpointer object)
{
  if (!G_TYPE_CHECK_INSTANCE_TYPE(object, GTG_TYPE_DTLS_CONNECTION))
    return nullptr;
  return reinterpret_cast<GtgDtlsConnection *>(object)->core;
}

}  // namespace gtg

static GtgDtlsConnection *self_of(gpointer object)
{
  return reinterpret_cast<GtgDtlsConnection *>(object);
}

static void gtg_dtls_connection_init(GtgDtlsConnection *self)
{
  self->core = new gtg::ConnectionCore(G_OBJECT(self), gtg::Role::Client, true);
  self->core->database = gtg::Ref<GTlsDatabase>::adopt(gtg::database_get_system());
  self->cookies = TRUE;
}

static void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) noexcept
{
  GtgDtlsConnection *self = self_of(object);
  gtg::ConnectionCore &core = *self->core;
  if (gtg::get_shared_property(core, pspec, value))
    return;
  switch (prop_id) {
  case PROP_BASE_SOCKET:
    g_value_set_object(value, self->base_socket);
    break;
  case PROP_MTU:
    g_value_set_uint(value, self->mtu ? self->mtu : (self->transport ? self->transport->path_mtu() : 0));
    break;
  case PROP_HANDSHAKE_TIMEOUT:
    g_value_set_uint(value, core.dtls_handshake_timeout_ms);
    break;
  case PROP_RETRANSMISSIONS:
    g_value_set_uint(value, self->transport ? self->transport->retransmissions() : 0);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec) noexcept
{
  GtgDtlsConnection *self = self_of(object);
  gtg::ConnectionCore &core = *self->core;
  if (gtg::set_shared_property(core, pspec, value))
    return;
  switch (prop_id) {
  case PROP_BASE_SOCKET: {
    auto *base = G_DATAGRAM_BASED(g_value_get_object(value));
    if (!base || self->base_socket)
      break;
    self->base_socket = G_DATAGRAM_BASED(g_object_ref(base));
    auto transport = std::make_unique<gtg::DatagramTransport>(base, core.role() == gtg::Role::Server,
                                                              core.id());
    // The MTU and cookie settings reach the transport whenever they are
    // set, so that an implicit handshake (a first send or receive) uses
    // them too.
    transport->set_mtu(self->mtu);
    transport->set_cookies(self->cookies);
    transport->set_cookie_secret(self->cookie_secret);
    self->transport = transport.get();
    core.set_transport(std::move(transport));
    break;
  }
  case PROP_MTU:
    self->mtu = g_value_get_uint(value);
    if (self->transport)
      self->transport->set_mtu(self->mtu);
    break;
  case PROP_HANDSHAKE_TIMEOUT:
    core.dtls_handshake_timeout_ms = g_value_get_uint(value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static gboolean initable_init(GInitable *initable, GCancellable *, GError **error) noexcept
{
  GtgDtlsConnection *self = self_of(initable);
  if (!self->base_socket) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        _("A DTLS connection needs a base socket"));
    return FALSE;
  }
  return TRUE;
}

static void initable_iface_init(GInitableIface *iface) noexcept
{
  iface->init = initable_init;
}

static void finalize(GObject *object) noexcept
{
  GtgDtlsConnection *self = self_of(object);
  delete self->core;
  g_clear_object(&self->base_socket);
  g_clear_pointer(&self->cookie_secret, g_bytes_unref);
  G_OBJECT_CLASS(gtg_dtls_connection_parent_class)->finalize(object);
}

// ----- GDtlsConnection -----

static gboolean handshake(GDtlsConnection *conn, GCancellable *cancellable, GError **error) noexcept
{
  return self_of(conn)->core->handshake(cancellable, error);
}

static void handshake_async(GDtlsConnection *conn, int io_priority, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) noexcept
{
  self_of(conn)->core->handshake_async(io_priority, cancellable, callback, user_data,
                                       reinterpret_cast<gpointer>(handshake_async));
}

static gboolean handshake_finish(GDtlsConnection *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static gboolean shutdown(GDtlsConnection *conn, gboolean shutdown_read, gboolean shutdown_write,
                         GCancellable *cancellable, GError **error) noexcept
{
  return self_of(conn)->core->shutdown(shutdown_read, shutdown_write, cancellable, error);
}

static void shutdown_async(GDtlsConnection *conn, gboolean shutdown_read, gboolean shutdown_write,
                           int io_priority, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data) noexcept
{
  GTask *task = g_task_new(conn, cancellable, callback, user_data);
  g_task_set_source_tag(task, reinterpret_cast<gpointer>(shutdown_async));
  self_of(conn)->core->shutdown_async(shutdown_read, shutdown_write, io_priority, cancellable,
                                      [task](GError *error) {
                                        if (error)
                                          g_task_return_error(task, error);
                                        else
                                          g_task_return_boolean(task, TRUE);
                                        g_object_unref(task);
                                      });
}

static gboolean shutdown_finish(GDtlsConnection *, GAsyncResult *result, GError **error) noexcept
{
  return g_task_propagate_boolean(G_TASK(result), error);
}

static void set_advertised_protocols(GDtlsConnection *conn, const char *const *protocols) noexcept
{
  gtg::ConnectionCore &core = *self_of(conn)->core;
  core.advertised_protocols.clear();
  for (const char *const *p = protocols; p && *p; p++)
    core.advertised_protocols.emplace_back(*p);
}

static const char *get_negotiated_protocol(GDtlsConnection *conn) noexcept
{
  return self_of(conn)->core->negotiated_protocol();
}

static gboolean get_binding_data(GDtlsConnection *conn, GTlsChannelBindingType type, GByteArray *data,
                                 GError **error) noexcept
{
  return self_of(conn)->core->get_channel_binding_data(type, data, error);
}

static void dtls_connection_iface_init(GDtlsConnectionInterface *iface) noexcept
{
  iface->handshake = handshake;
  iface->handshake_async = handshake_async;
  iface->handshake_finish = handshake_finish;
  iface->shutdown = shutdown;
  iface->shutdown_async = shutdown_async;
  iface->shutdown_finish = shutdown_finish;
  iface->set_advertised_protocols = set_advertised_protocols;
  iface->get_negotiated_protocol = get_negotiated_protocol;
  iface->get_binding_data = get_binding_data;
}

// ----- GDatagramBased -----

// GIO allows G_IO_ERROR_TIMED_OUT only for a positive timeout (it asserts
// so); a handshake that ran out of its own time under a call without one
// fails as a handshake.
static void propagate_call_error(gtg::ConnectionCore &core, gint64 timeout, GError **error, GError *local)
{
  if (timeout <= 0 && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    if (core.handshake_done())
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, local->message);
    else
      g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, local->message);
    g_error_free(local);
    return;
  }
  g_propagate_error(error, local);
}

static gint receive_messages(GDatagramBased *datagram_based, GInputMessage *messages,
                             guint num_messages, gint, gint64 timeout, GCancellable *cancellable,
                             GError **error) noexcept
{
  GtgDtlsConnection *self = self_of(datagram_based);
  gtg::ConnectionCore &core = *self->core;
  // Several messages on a plain connected socket: the transport receives
  // up to that many datagrams with one system call and GnuTLS decrypts them
  // one per read below.
  bool batch = num_messages > 1 && self->transport && self->transport->batches_apply();
  if (batch)
    self->transport->begin_receive_batch(num_messages);
  std::vector<guint8> scratch;
  guint received = 0;
  for (; received < num_messages; received++) {
    GInputMessage &m = messages[received];
    // The first message follows the caller's timeout; later ones only take
    // what is already there.
    bool blocking = received == 0 && timeout != 0;
    gint64 wait_us = received == 0 && timeout > 0 ? timeout : -1;
    bool direct = m.num_vectors == 1;
    gsize capacity = 0;
    for (guint v = 0; v < m.num_vectors; v++)
      capacity += m.vectors[v].size;
    void *buffer = direct ? m.vectors[0].buffer : nullptr;
    if (!direct) {
      scratch.resize(capacity);
      buffer = scratch.data();
    }
    GError *local = nullptr;
    gssize n = core.read(buffer, capacity, blocking, cancellable, &local, wait_us);
    if (n < 0) {
      if (received > 0) {
        g_error_free(local);  // nothing more yet, or reported on the next call
        break;
      }
      if (batch)
        self->transport->end_receive_batch();
      propagate_call_error(core, timeout, error, local);
      return -1;
    }
    if (!direct) {
      gsize offset = 0;
      for (guint v = 0; v < m.num_vectors && offset < static_cast<gsize>(n); v++) {
        gsize take = std::min(m.vectors[v].size, static_cast<gsize>(n) - offset);
        memcpy(m.vectors[v].buffer, scratch.data() + offset, take);
        offset += take;
      }
    }
    m.bytes_received = static_cast<gsize>(n);
    m.flags = 0;
    if (m.address)
      *m.address = nullptr;
    if (m.control_messages)
      *m.control_messages = nullptr;
    if (m.num_control_messages)
      *m.num_control_messages = 0;
    if (n == 0)
      break;  // the peer closed
  }
  if (batch)
    self->transport->end_receive_batch();
  return static_cast<gint>(received);
}

// The error of a send_messages call that sent nothing: `local` is what
// sending the first message (of `size` bytes) failed with.
static void fail_send(gtg::ConnectionCore &core, gint64 timeout, gsize size, GError *local, GError **error)
{
  // One message is one record: GnuTLS refuses what would not fit before
  // it sends anything. Say by how much.
  if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE) && core.session()) {
    g_error_free(local);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                _("A message of %zu bytes does not fit in one DTLS record (at most %u bytes)"),
                size, gnutls_dtls_get_data_mtu(core.session()));
    return;
  }
  propagate_call_error(core, timeout, error, local);
}

// The payload of `m`: its one vector as it is (the usual case), or several
// gathered into `payload`.
static const void *gather(const GOutputMessage &m, std::vector<guint8> &payload, gsize *out_size)
{
  if (m.num_vectors == 1) {
    *out_size = m.vectors[0].size;
    return m.vectors[0].buffer;
  }
  payload.clear();
  for (guint v = 0; v < m.num_vectors; v++) {
    const auto *b = static_cast<const guint8 *>(m.vectors[v].buffer);
    payload.insert(payload.end(), b, b + m.vectors[v].size);
  }
  *out_size = payload.size();
  return payload.data();
}

// Several messages on a plain connected socket: each is encrypted into its
// own record, which the transport collects, and then they leave with as few
// system calls as the kernel allows (DatagramTransport, SendBatch), up to
// kChunk messages at a time so that a full socket wastes little encryption
// and a large call little memory. A blocking call waits until every message
// has gone; a nonblocking one, or one out of time, reports how many went
// (records that did not go are dropped, and their messages count as not
// sent).
static gint send_batch(GtgDtlsConnection *self, GOutputMessage *messages, guint num_messages,
                       gint64 timeout, GCancellable *cancellable, GError **error)
{
  constexpr guint kChunk = 64;
  gtg::ConnectionCore &core = *self->core;
  gtg::DatagramTransport &transport = *self->transport;
  gint64 deadline = timeout > 0 ? g_get_monotonic_time() + timeout : -1;
  std::vector<guint8> payload;
  struct Record {
    size_t datagrams_until;  // datagrams collected once this message's record was
    gsize size;              // the message's bytes
  };
  std::vector<Record> records;
  records.reserve(std::min(num_messages, kChunk));
  GError *local = nullptr;
  guint done = 0;
  bool stopped = false;  // a message failed to encrypt: the call ends before it
  while (done < num_messages && !local && !stopped) {
    records.clear();
    guint chunk = std::min(num_messages - done, kChunk);
    transport.begin_send_batch();
    for (guint i = done; i < done + chunk; i++) {
      gsize size = 0;
      const void *data = gather(messages[i], payload, &size);
      // The call's first record waits as a single message would (for an
      // implicit handshake, or earlier output to flush); the others are
      // only collected.
      bool blocking = i == 0 && timeout != 0;
      gint64 wait_us = i == 0 && timeout > 0 ? timeout : -1;
      gssize n = core.write(data, size, blocking, cancellable, &local, wait_us);
      if (n < 0) {
        if (i == 0) {
          transport.stop_collecting();
          transport.end_send_batch();
          fail_send(core, timeout, size, local, error);
          return -1;
        }
        // It fails again first thing in the next call, which starts with it.
        g_clear_error(&local);
        stopped = true;
        break;
      }
      records.push_back({transport.collected(), static_cast<gsize>(n)});
    }
    transport.stop_collecting();
    size_t sent = 0;
    for (;;) {
      gtg::FlushResult result = transport.send_collected(sent, &sent, &local);
      if (result != gtg::FlushResult::WouldBlock)
        break;
      if (timeout == 0) {
        g_set_error_literal(&local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
        break;
      }
      gint64 left = deadline < 0 ? -1 : deadline - g_get_monotonic_time();
      if (deadline >= 0 && left <= 0) {
        g_set_error_literal(&local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
        break;
      }
      if (!transport.wait(gtg::Wait::Writable, left, cancellable, &local))
        break;
    }
    transport.end_send_batch();
    for (const Record &record : records) {
      if (record.datagrams_until > sent)
        break;
      messages[done++].bytes_sent = static_cast<guint>(record.size);
    }
  }
  if (done > 0) {
    g_clear_error(&local);
    return static_cast<gint>(done);
  }
  if (!local)  // not reached: a chunk that sent nothing says why
    g_set_error_literal(&local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, _("Operation would block"));
  propagate_call_error(core, timeout, error, local);
  return -1;
}

static gint send_messages(GDatagramBased *datagram_based, GOutputMessage *messages,
                          guint num_messages, gint, gint64 timeout, GCancellable *cancellable,
                          GError **error) noexcept
{
  GtgDtlsConnection *self = self_of(datagram_based);
  gtg::ConnectionCore &core = *self->core;
  if (num_messages > 1 && self->transport && self->transport->batches_apply())
    return send_batch(self, messages, num_messages, timeout, cancellable, error);
  std::vector<guint8> payload;
  guint sent = 0;
  for (; sent < num_messages; sent++) {
    GOutputMessage &m = messages[sent];
    gsize size = 0;
    const void *data = gather(m, payload, &size);
    bool blocking = sent == 0 && timeout != 0;
    gint64 wait_us = sent == 0 && timeout > 0 ? timeout : -1;
    GError *local = nullptr;
    gssize n = core.write(data, size, blocking, cancellable, &local, wait_us);
    if (n < 0) {
      if (sent > 0) {
        g_error_free(local);
        break;
      }
      fail_send(core, timeout, size, local, error);
      return -1;
    }
    m.bytes_sent = static_cast<guint>(n);
  }
  return static_cast<gint>(sent);
}

static GIOCondition condition_check(GDatagramBased *datagram_based, GIOCondition condition) noexcept
{
  gtg::ConnectionCore &core = *self_of(datagram_based)->core;
  guint ready = 0;
  if ((condition & G_IO_IN) && core.is_ready(gtg::Side::Read))
    ready |= G_IO_IN;
  if ((condition & G_IO_OUT) && core.is_ready(gtg::Side::Write))
    ready |= G_IO_OUT;
  return static_cast<GIOCondition>(ready);
}

// A GDatagramBased source: dispatches (datagram_based, condition, data)
// when the connection may read or write without waiting.
struct DatagramSource {
  GSource source;
  GDatagramBased *owner;  // (owned)
  GIOCondition condition;
};

static gboolean datagram_source_dispatch(GSource *source, GSourceFunc callback, gpointer data) noexcept
{
  auto *s = reinterpret_cast<DatagramSource *>(source);
  auto func = reinterpret_cast<GDatagramBasedSourceFunc>(reinterpret_cast<void (*)()>(callback));
  if (!func)
    return G_SOURCE_REMOVE;
  return func(s->owner, condition_check(s->owner, s->condition), data);
}

static void datagram_source_finalize(GSource *source) noexcept
{
  g_object_unref(reinterpret_cast<DatagramSource *>(source)->owner);
}

// For g_source_set_closure(): the closure takes (datagram_based, condition)
// and returns a boolean, as GDatagramBasedSourceFunc does.
static gboolean datagram_source_closure_callback(GDatagramBased *datagram_based,
                                                 GIOCondition condition, gpointer data) noexcept
{
  GValue params[2] = {G_VALUE_INIT, G_VALUE_INIT};
  GValue result = G_VALUE_INIT;
  g_value_init(&result, G_TYPE_BOOLEAN);
  g_value_init(&params[0], G_TYPE_DATAGRAM_BASED);
  g_value_set_object(&params[0], datagram_based);
  g_value_init(&params[1], G_TYPE_IO_CONDITION);
  g_value_set_flags(&params[1], condition);
  g_closure_invoke(static_cast<GClosure *>(data), &result, 2, params, nullptr);
  gboolean again = g_value_get_boolean(&result);
  g_value_unset(&result);
  g_value_unset(&params[0]);
  g_value_unset(&params[1]);
  return again;
}

static GSourceFuncs datagram_source_funcs = {
    nullptr,
    nullptr,
    datagram_source_dispatch,
    datagram_source_finalize,
    reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(datagram_source_closure_callback)),
    nullptr,
};

static GSource *create_source(GDatagramBased *datagram_based, GIOCondition condition,
                              GCancellable *cancellable) noexcept
{
  gtg::ConnectionCore &core = *self_of(datagram_based)->core;
  GSource *source = g_source_new(&datagram_source_funcs, sizeof(DatagramSource));
  g_source_set_static_name(source, "GioTlsGnutls DTLS");
  auto *s = reinterpret_cast<DatagramSource *>(source);
  s->owner = G_DATAGRAM_BASED(g_object_ref(datagram_based));
  s->condition = condition;
  GSource *child = core.create_source(condition & G_IO_OUT ? gtg::Side::Write : gtg::Side::Read,
                                      cancellable);
  g_source_set_dummy_callback(child);
  g_source_add_child_source(source, child);
  g_source_unref(child);
  return source;
}

static gboolean condition_wait(GDatagramBased *datagram_based, GIOCondition condition,
                               gint64 timeout, GCancellable *cancellable, GError **error) noexcept
{
  gint64 deadline = timeout > 0 ? g_get_monotonic_time() + timeout : -1;
  gtg::ConnectionCore &core = *self_of(datagram_based)->core;
  if (!core.handshake_done()) {
    // The handshake the first operation needs, run (or, for timeout 0,
    // started in the background) here: waiting on the socket alone would
    // never see it end.
    GError *local = nullptr;
    gtg::Side side = condition & G_IO_OUT ? gtg::Side::Write : gtg::Side::Read;
    if (!core.await_handshake(side, timeout != 0, deadline, cancellable, &local)) {
      if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(local);
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
        return FALSE;
      }
      if ((g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && timeout > 0) ||
          g_error_matches(local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_propagate_error(error, local);
        return FALSE;
      }
      // The handshake failed: the operation would fail at once, which is
      // what the condition means.
      g_error_free(local);
      return TRUE;
    }
  }
  for (;;) {
    if (g_cancellable_set_error_if_cancelled(cancellable, error))
      return FALSE;
    if (condition_check(datagram_based, condition))
      return TRUE;
    gint64 left = deadline < 0 ? -1 : deadline - g_get_monotonic_time();
    if (timeout == 0 || (deadline >= 0 && left <= 0)) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Socket I/O timed out"));
      return FALSE;
    }
    gtg::Transport *t = self_of(datagram_based)->core->transport();
    GError *local = nullptr;
    if (!t->wait(condition & G_IO_OUT ? gtg::Wait::Writable : gtg::Wait::Readable, left,
                 cancellable, &local)) {
      g_propagate_error(error, local);
      return FALSE;
    }
  }
}

static void datagram_based_init(GDatagramBasedInterface *iface) noexcept
{
  iface->receive_messages = receive_messages;
  iface->send_messages = send_messages;
  iface->create_source = create_source;
  iface->condition_check = condition_check;
  iface->condition_wait = condition_wait;
}

static void gtg_dtls_connection_class_init(GtgDtlsConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  object_class->finalize = finalize;

  g_object_class_override_property(object_class, PROP_BASE_SOCKET, "base-socket");
  g_object_class_override_property(object_class, PROP_CERTIFICATE, "certificate");
  g_object_class_override_property(object_class, PROP_DATABASE, "database");
  g_object_class_override_property(object_class, PROP_INTERACTION, "interaction");
  g_object_class_override_property(object_class, PROP_PEER_CERTIFICATE, "peer-certificate");
  g_object_class_override_property(object_class, PROP_PEER_CERTIFICATE_ERRORS,
                                   "peer-certificate-errors");
  g_object_class_override_property(object_class, PROP_REQUIRE_CLOSE_NOTIFY, "require-close-notify");
  g_object_class_override_property(object_class, PROP_REHANDSHAKE_MODE, "rehandshake-mode");
  g_object_class_override_property(object_class, PROP_ADVERTISED_PROTOCOLS, "advertised-protocols");
  g_object_class_override_property(object_class, PROP_NEGOTIATED_PROTOCOL, "negotiated-protocol");
  g_object_class_override_property(object_class, PROP_PROTOCOL_VERSION, "protocol-version");
  g_object_class_override_property(object_class, PROP_CIPHERSUITE_NAME, "ciphersuite-name");

  // Ours, documented in docs/user-guide.md.
  props[PROP_MTU] = g_param_spec_uint(
      "mtu", nullptr, nullptr, 0, 65535, 0,
      static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  props[PROP_HANDSHAKE_TIMEOUT] = g_param_spec_uint(
      "handshake-timeout", nullptr, nullptr, 1000, 600000, 60000,
      static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  props[PROP_SESSION_RESUMED] = gtg::session_resumed_param_spec();
  props[PROP_RETRANSMISSIONS] = g_param_spec_uint(
      "retransmissions", nullptr, nullptr, 0, G_MAXUINT, 0,
      static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(object_class, PROP_MTU, props[PROP_MTU]);
  g_object_class_install_property(object_class, PROP_HANDSHAKE_TIMEOUT, props[PROP_HANDSHAKE_TIMEOUT]);
  g_object_class_install_property(object_class, PROP_SESSION_RESUMED, props[PROP_SESSION_RESUMED]);
  g_object_class_install_property(object_class, PROP_RETRANSMISSIONS, props[PROP_RETRANSMISSIONS]);
  props[PROP_MIN_PROTOCOL_VERSION] = gtg::min_protocol_version_param_spec();
  props[PROP_MAX_PROTOCOL_VERSION] = gtg::max_protocol_version_param_spec();
  props[PROP_CIPHERSUITES] = gtg::ciphersuites_param_spec();
  props[PROP_PRIORITY] = gtg::priority_param_spec();
  for (guint id = PROP_MIN_PROTOCOL_VERSION; id <= PROP_PRIORITY; id++)
    g_object_class_install_property(object_class, id, props[id]);
}
