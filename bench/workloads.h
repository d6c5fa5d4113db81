// The workloads of gio-tls-bench, each implemented twice: through the public
// GIO API (measuring whichever TLS backend GIO loaded) and with raw GnuTLS on
// the same loopback sockets, non-blocking, waiting with poll() (the reference
// for what a GnuTLS-based backend can reach). main.cc runs each workload in a
// child process of its own and calls exactly one of these there, on the main
// thread; workloads start their own helper threads (a server thread for the
// sequential ones) and join them before returning.
#pragma once

#include "common.h"

namespace bench {

struct Context {
  Certs certs;
  bool quick = false;  // shorter bounds, for smoke tests
  long count = 0;      // when set: a fixed count (bytes, round trips,
                       // handshakes, idle pairs) instead of a time bound,
                       // for instruction-count profiles
};

// The bounds of `name` for this run (limits_for, or the fixed count).
Limits limits_of(const std::string &name, const Context &ctx);

// Every workload name, in report order.
const std::vector<const char *> &workload_names();
// Count and time bounds of `name`.
Limits limits_for(const std::string &name, bool quick);
// Concurrent workloads: the number of pairs in the name ("conc-1000"), else 0.
long concurrency_of(const std::string &name);
// Batched DTLS workloads: the messages per call in the name
// ("dtls-batch-send-32"), else 0.
unsigned batch_of(const std::string &name);

Result run_gio(const std::string &name, const Context &ctx);
Result run_raw(const std::string &name, const Context &ctx);

// The DTLS workloads through GIO (gio_dtls.cc), called by run_gio.
Result run_gio_dtls(const std::string &name, GTlsCertificate *cert, GTlsDatabase *db, Limits lim);

// Short one-line descriptions used in --list.
const char *describe(const std::string &name);

}  // namespace bench
