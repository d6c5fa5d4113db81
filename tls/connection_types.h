// The GTypes of this module's TLS and DTLS connections, as the backend hands
// them to GIO. Each is defined beside its implementation.
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS
#define GTG_TYPE_TLS_CLIENT_CONNECTION (gtg_tls_client_connection_get_type())
GType gtg_tls_client_connection_get_type(void);
#define GTG_TYPE_TLS_SERVER_CONNECTION (gtg_tls_server_connection_get_type())
GType gtg_tls_server_connection_get_type(void);
#define GTG_TYPE_DTLS_CLIENT_CONNECTION (gtg_dtls_client_connection_get_type())
GType gtg_dtls_client_connection_get_type(void);
#define GTG_TYPE_DTLS_SERVER_CONNECTION (gtg_dtls_server_connection_get_type())
GType gtg_dtls_server_connection_get_type(void);
G_END_DECLS
