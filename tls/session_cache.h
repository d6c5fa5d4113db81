// Session resumption state shared by every connection of the process.
//
// Client side: a bounded cache of resumption data keyed by server identity
// and port ("host:port"). TLS 1.3 tickets are single use, so an entry is
// taken (removed) when a new connection uses it and stored again when the
// server sends a new ticket. Server side: one session-ticket encryption key
// per process (GnuTLS rotates the TLS 1.3 keys it derives from it). Any
// thread; internally locked.
#pragma once

#include "owners.h"

#include <string>

namespace gtg {

// Remembers `data` (from gnutls_session_get_data2) for `key`.
void session_cache_store(const std::string &key, const gnutls_datum_t &data);

// Moves the data for `key` into `out`; false when there is none.
bool session_cache_take(const std::string &key, GnutlsBuffer &out);

// The process-wide ticket key for gnutls_session_ticket_enable_server.
const gnutls_datum_t *session_ticket_key();

}  // namespace gtg
