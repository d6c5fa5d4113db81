// GtgDatabase and the system trust store.
//
// GtgDatabase is this module's GTlsDatabase: a GnuTLS trust list plus the
// chain verification GIO asks for (purpose, identity, GTlsCertificateFlags).
// The system database is built once per process, on first use, from
// gnutls_x509_trust_list_add_system_trust, and shared by every connection
// that uses the default database. GtgFileDatabase (file_database.cc) is the
// GTlsFileDatabase subclass whose anchors come from a PEM file.
//
// A database is immutable once constructed, so any thread may use it without
// locking. Verification and lookups run on the calling thread and never block
// on I/O, so connections call them from inside the handshake; the async
// variants compute on the calling thread too and deliver their result through
// a GTask on the caller's thread-default main context (no worker threads).
#pragma once

#include "owners.h"

#include <gio/gio.h>

namespace gtg {
class TrustStore;  // database.cc: the anchors, their trust list and indexes
}

G_BEGIN_DECLS
#define GTG_TYPE_DATABASE (gtg_database_get_type())
GType gtg_database_get_type(void);
#define GTG_TYPE_FILE_DATABASE (gtg_file_database_get_type())
GType gtg_file_database_get_type(void);
G_END_DECLS

struct GtgDatabase {
  GTlsDatabase parent_instance;
  gtg::TrustStore *store;  // (owned) never null; replaced only during construction
};

struct GtgDatabaseClass {
  GTlsDatabaseClass parent_class;
};

namespace gtg {

// The process-wide system database (transfer full). Thread-safe; built once,
// on the first call. When the system store cannot be read the database is
// empty (every chain then has UNKNOWN_CA) and a warning says why.
GTlsDatabase *database_get_system(void);

// The trust anchors of a GtgDatabase, owned by it and valid while it lives
// (a server connection copies their names into its CertificateRequest).
// nullptr with *out_n = 0 for databases of other implementations.
const gnutls_x509_crt_t *database_get_anchors(GTlsDatabase *database, unsigned *out_n);

// Whether `database` verifies with this module's own code (a GtgDatabase
// whose verify_chain is not overridden): pure computation, which a
// handshake may run in place. Other databases are application code.
bool database_is_own(GTlsDatabase *database);

// Fills a GtgDatabase under construction with the certificates (and CRLs, if
// any) of the PEM file `path`; handles of its certificates are then the
// file:// URI of `path` with the SHA-256 of the certificate as fragment.
// Called once, from GtgFileDatabase's GInitable init, before the database is
// shared. Errors: G_FILE_ERROR when the file cannot be read,
// G_TLS_ERROR_MISC (the code glib-networking uses, which applications check)
// when it holds no certificate, a damaged one or a damaged CRL.
bool database_load_anchor_file(GTlsDatabase *database, const char *path, GError **error);

// A human-readable, translated description of `flags` for `cert` and its
// issuers, naming the subject of the certificate each check failed for, for
// error messages such as "Certificate “CN=x”: it expired on 2024-01-01
// 00:00:00 UTC." `identity` (nullable) is named when BAD_IDENTITY is set.
// Free with g_free.
char *describe_certificate_errors(GTlsCertificate *cert, GTlsCertificateFlags flags,
                                  GSocketConnectable *identity = nullptr);

}  // namespace gtg
