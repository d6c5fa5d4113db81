// GtgDtlsConnection: the abstract base of this module's DTLS client and
// server connections.
//
// A GObject implementing GDatagramBased (one record per datagram, GIO's
// timeout semantics) and GDtlsConnection over a ConnectionCore in datagram
// mode with a DatagramTransport. The base socket stays the application's:
// shutdown and close send close_notify but never close it. Operations run
// on the calling thread, like TLS connections.
#pragma once

#include "connection_core.h"
#include "datagram_transport.h"

#include <gio/gio.h>

G_BEGIN_DECLS
#define GTG_TYPE_DTLS_CONNECTION (gtg_dtls_connection_get_type())
GType gtg_dtls_connection_get_type(void);
G_END_DECLS

struct GtgDtlsConnection {
  GObject parent_instance;
  gtg::ConnectionCore *core;         // (owned)
  gtg::DatagramTransport *transport;  // (unowned) owned by core
  GDatagramBased *base_socket;       // (owned)
  guint mtu;                         // 0: from the socket (path MTU or 1400)
  gboolean cookies;                  // server: stateless cookie exchange
  GBytes *cookie_secret;             // (owned, nullable) server: the cookies' secret
};

struct GtgDtlsConnectionClass {
  GObjectClass parent_class;
};

namespace gtg {

// The core of a GtgDtlsConnection (or nullptr when `object` is not one).
ConnectionCore *dtls_connection_core(gpointer object);

}  // namespace gtg
