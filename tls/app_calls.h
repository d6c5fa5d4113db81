// Calls into application code that a handshake makes from inside GnuTLS's
// callbacks: the interaction's certificate and password requests, and
// verification by a database that is not this module's own.
//
// Called on the thread running the handshake. On a HandshakeFiber (an async
// handshake) each call uses the application's async API and suspends the
// handshake until it answers, so the caller's main context keeps running
// and is never iterated from here. Anywhere else (a sync handshake, a
// certificate used outside a handshake) they block the way GIO documents
// for blocking callers (g_tls_interaction_invoke_*, the database's sync
// verify_chain). A suspended call whose handshake is cancelled or closed
// returns G_IO_ERROR_CANCELLED; the application's answer, when it comes
// later, is then dropped.
#pragma once

#include <gio/gio.h>

namespace gtg {

GTlsInteractionResult interaction_request_certificate(GTlsInteraction *interaction,
                                                      GTlsConnection *connection,
                                                      GCancellable *cancellable, GError **error);

GTlsInteractionResult interaction_ask_password(GTlsInteraction *interaction, GTlsPassword *password,
                                               GCancellable *cancellable, GError **error);

GTlsCertificateFlags database_verify_chain(GTlsDatabase *database, GTlsCertificate *chain,
                                           const char *purpose, GSocketConnectable *identity,
                                           GTlsInteraction *interaction, GCancellable *cancellable,
                                           GError **error);

}  // namespace gtg
