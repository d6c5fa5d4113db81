// GTlsBackend<Name>: the object GIO's gio-tls-backend extension point asks
// for the TLS types and the default database. Stateless apart from the
// shared system database (see database.h); any thread.
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS
#define GTG_TYPE_BACKEND (gtg_backend_get_type())
GType gtg_backend_get_type(void);
G_END_DECLS
