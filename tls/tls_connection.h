// GtgTlsConnection: the abstract GTlsConnection shared by this module's TLS
// client and server connections.
//
// It owns the ConnectionCore (the session and its operations) and the two
// TLS streams, maps GObject properties and GTlsConnection vfuncs onto the
// core, and closes the base stream after close_notify. Operations run on the
// calling thread; see connection_core.h for which may run concurrently.
#pragma once

#include "connection_core.h"

#include <gio/gio.h>

G_BEGIN_DECLS
#define GTG_TYPE_TLS_CONNECTION (gtg_tls_connection_get_type())
GType gtg_tls_connection_get_type(void);
G_END_DECLS

struct GtgTlsConnection {
  GTlsConnection parent_instance;
  gtg::ConnectionCore *core;  // (owned)
  GIOStream *base_io_stream;  // (owned)
  GInputStream *tls_input;    // (owned)
  GOutputStream *tls_output;  // (owned)
  gboolean use_system_certdb;
};

struct GtgTlsConnectionClass {
  GTlsConnectionClass parent_class;
};

namespace gtg {

// The core of a GtgTlsConnection (or nullptr when `object` is not one).
ConnectionCore *tls_connection_core(gpointer object);

}  // namespace gtg

// The input and output streams of a TLS connection. They do not keep `conn`
// alive; its dispose detaches them, after which their calls fail with
// G_IO_ERROR_CLOSED.
GInputStream *gtg_tls_input_stream_new(GtgTlsConnection *conn);
GOutputStream *gtg_tls_output_stream_new(GtgTlsConnection *conn);
void gtg_tls_input_stream_detach(GInputStream *stream);
void gtg_tls_output_stream_detach(GOutputStream *stream);
