// RawDatagramBased: the thinnest GDatagramBased there can be over a raw
// GnuTLS DTLS session. Each message goes to raw::send_all or comes from
// raw::recv_some as it is, with no gate, driver or GObject state of its own.
// The dtls-dgram workload of the raw backend runs once more through it
// (raw_workloads.cc), and that figure is GIO's own share: what any backend
// pays for being called through g_datagram_based_send_messages() and
// g_datagram_based_receive_messages() (type checks, interface lookup, error
// checks) rather than directly. Any thread; one user per direction.
#pragma once

#include "raw_tls.h"

#include <gio/gio.h>

namespace bench::raw {

// A GDatagramBased sending and receiving through `session` on `fd`, waiting
// at most until `deadline` (now_s()) when the caller's timeout is -1. The
// session and fd stay the caller's.
GDatagramBased *datagram_based_new(gnutls_session_t session, int fd, double deadline);

}  // namespace bench::raw
