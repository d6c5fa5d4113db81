#include "raw_datagram_based.h"

namespace bench::raw {

namespace {

struct RawDatagramBased {
  GObject parent;
  gnutls_session_t session;
  int fd;
  double deadline;
};

struct RawDatagramBasedClass {
  GObjectClass parent;
};

GType raw_datagram_based_get_type();
void raw_datagram_based_iface_init(GDatagramBasedInterface *iface);

G_DEFINE_TYPE_WITH_CODE(RawDatagramBased, raw_datagram_based, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_DATAGRAM_BASED, raw_datagram_based_iface_init))

void raw_datagram_based_init(RawDatagramBased *) {}
void raw_datagram_based_class_init(RawDatagramBasedClass *) {}

RawDatagramBased *self_of(GDatagramBased *d) { return reinterpret_cast<RawDatagramBased *>(d); }

double deadline_for(RawDatagramBased *self, gint64 timeout_us)
{
  return timeout_us < 0 ? self->deadline : now_s() + static_cast<double>(timeout_us) * 1e-6;
}

// One record per message, one vector per message: all the workloads send.
// Several messages (dtls-batch-*) are sent one after another, as a backend
// without batching would.
gint send_messages(GDatagramBased *d, GOutputMessage *messages, guint num_messages, gint, gint64 timeout_us,
                   GCancellable *, GError **error) noexcept
{
  RawDatagramBased *self = self_of(d);
  for (guint i = 0; i < num_messages; i++) {
    GOutputMessage &m = messages[i];
    if (!send_all(self->session, self->fd, m.vectors[0].buffer, m.vectors[0].size, deadline_for(self, timeout_us))) {
      if (i > 0)
        return static_cast<gint>(i);
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "raw DTLS send failed");
      return -1;
    }
    m.bytes_sent = static_cast<guint>(m.vectors[0].size);
  }
  return static_cast<gint>(num_messages);
}

// The first message waits as the timeout says; later ones only take what
// is already there, one gnutls_record_recv() each.
gint receive_messages(GDatagramBased *d, GInputMessage *messages, guint num_messages, gint, gint64 timeout_us,
                      GCancellable *, GError **error) noexcept
{
  RawDatagramBased *self = self_of(d);
  for (guint i = 0; i < num_messages; i++) {
    GInputMessage &m = messages[i];
    size_t got = 0;
    double deadline = i == 0 ? deadline_for(self, timeout_us) : 0;
    if (!recv_some(self->session, self->fd, m.vectors[0].buffer, m.vectors[0].size, deadline, &got)) {
      if (i > 0)
        return static_cast<gint>(i);
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no datagram in time");
      return -1;
    }
    m.bytes_received = got;
  }
  return static_cast<gint>(num_messages);
}

void raw_datagram_based_iface_init(GDatagramBasedInterface *iface)
{
  iface->send_messages = send_messages;
  iface->receive_messages = receive_messages;
}

}  // namespace

GDatagramBased *datagram_based_new(gnutls_session_t session, int fd, double deadline)
{
  auto *self = static_cast<RawDatagramBased *>(g_object_new(raw_datagram_based_get_type(), nullptr));
  self->session = session;
  self->fd = fd;
  self->deadline = deadline;
  return G_DATAGRAM_BASED(self);
}

}  // namespace bench::raw
