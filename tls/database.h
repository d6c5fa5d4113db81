// GtgDatabase and the system trust store.
//
// GtgDatabase is this module's GTlsDatabase: a GnuTLS trust list plus the
// chain verification GIO asks for (purpose, identity, GTlsCertificateFlags).
// The system database is built once per process, on first use, from
// gnutls_x509_trust_list_add_system_trust, and shared by every connection
// that uses the default database. Verification runs on the calling thread and
// never blocks on I/O, so connections call it from inside the handshake.
#pragma once

#include "owners.h"

#include <gio/gio.h>

G_BEGIN_DECLS
#define GTG_TYPE_DATABASE (gtg_database_get_type())
GType gtg_database_get_type(void);
#define GTG_TYPE_FILE_DATABASE (gtg_file_database_get_type())
GType gtg_file_database_get_type(void);
G_END_DECLS

namespace gtg {

// The process-wide system database (transfer full). Thread-safe; built once.
GTlsDatabase *database_get_system(void);

// The trust anchors of a GtgDatabase, owned by it and valid while it lives
// (a server connection copies their names into its CertificateRequest).
// nullptr with *out_n = 0 for databases of other implementations.
const gnutls_x509_crt_t *database_get_anchors(GTlsDatabase *database, unsigned *out_n);

// A human-readable, translated description of `flags` for `cert` (subject
// included), for error messages such as "The certificate of CN=x is expired".
char *describe_certificate_errors(GTlsCertificate *cert, GTlsCertificateFlags flags);

}  // namespace gtg
