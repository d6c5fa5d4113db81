// PriorityOptions: what an application chose for one connection's protocol
// versions and cipher suites beyond GIO's API (the `min-protocol-version`,
// `max-protocol-version`, `ciphersuites` and `priority` properties, and
// whether pre-shared keys are to be offered), and the one function that turns
// that choice into a GnuTLS priority cache.
//
// ConnectionCore holds one and builds the session's priority from it in
// prepare_session, on the thread that starts the handshake; a connection with
// no such choice uses the process-wide priority instead (built once). Every
// value GnuTLS cannot use fails with a G_TLS_ERROR_MISC that names the bad
// part: nothing falls back silently.
//
// GnuTLS 3.7 selects TLS 1.2 suites by their parts (key exchange, cipher,
// MAC), not one by one: a list of suites enables the suites made of the parts
// the listed ones use, in the listed order of parts. TLS 1.3 is enabled only
// when the list names a TLS 1.3 suite, and TLS 1.2 and older only when it
// names one of theirs.
#pragma once

#include "owners.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include <string>
#include <vector>

namespace gtg {

struct PriorityOptions {
  // G_TLS_PROTOCOL_VERSION_UNKNOWN: no limit beyond the priority.
  GTlsProtocolVersion min_version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  GTlsProtocolVersion max_version = G_TLS_PROTOCOL_VERSION_UNKNOWN;
  // IANA names (GnuTLS's own names are accepted too), in order of
  // preference; empty: the priority's own suites.
  std::vector<std::string> ciphersuites;
  // A complete GnuTLS priority string replacing G_TLS_GNUTLS_PRIORITY and
  // the default for this connection; empty: none.
  std::string priority;

  // Whether nothing was chosen (the process-wide priority applies).
  bool is_default() const;

  // Builds the priority for a TLS (`datagram` false) or DTLS session,
  // adding the PSK key exchanges ((EC)DHE-PSK first) when `psk`.
  // False with a G_TLS_ERROR_MISC naming the bad part.
  bool build(bool datagram, bool psk, Owned<gnutls_priority_t> *out_priority, GError **error) const;
};

// A readable name of `version` ("TLS 1.2", "DTLS 1.2", ...).
const char *protocol_version_name(GTlsProtocolVersion version);

}  // namespace gtg
