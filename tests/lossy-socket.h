// GtgLossySocket: a GDatagramBased for tests that wraps a connected UDP
// GSocket and damages what goes out through it, the way a bad network does.
//
// Each datagram sent is, independently and at configurable rates, dropped,
// duplicated, held back until after the next one (reordered) or held back
// for a while (delayed). Decisions come from a GRand seeded by the test, so a
// failure reproduces with the same seed. Receiving is untouched: to damage
// both directions, wrap both ends.
//
// No threads: a held-back datagram leaves on a later call into the socket
// (send, receive, condition check or wait) once it is due, and the waits and
// sources bound their sleep by the next due time so a connection blocked on
// this socket keeps releasing them. release_all() sends whatever is still
// held. The socket is locked internally, so two threads may use it, though a
// test normally gives each end to one thread.
#pragma once

#include <gio/gio.h>

#include <vector>

G_BEGIN_DECLS
#define GTG_TYPE_LOSSY_SOCKET (gtg_lossy_socket_get_type())
G_DECLARE_FINAL_TYPE(GtgLossySocket, gtg_lossy_socket, GTG, LOSSY_SOCKET, GObject)
G_END_DECLS

namespace gtg_test {

// Rates are probabilities in [0, 1] applied to each datagram sent.
struct LossProfile {
  double drop = 0;
  double duplicate = 0;
  double reorder = 0;  // held until the next datagram has left (or 50 ms)
  double delay = 0;    // held for delay_ms
  unsigned delay_ms = 20;
  // Datagrams for which this returns true are always dropped (nullable).
  bool (*drop_if)(const guint8 *data, gsize size) = nullptr;
  // Datagrams for which this returns true always leave after the next one (nullable).
  bool (*reorder_if)(const guint8 *data, gsize size) = nullptr;
};

// What the socket did so far.
struct LossStats {
  guint sent = 0;        // datagrams the user sent (before damage)
  guint delivered = 0;   // datagrams that reached the UDP socket
  guint dropped = 0;
  guint duplicated = 0;
  guint reordered = 0;
  guint delayed = 0;
};

// Wraps `socket` (a UDP socket, normally connected). Takes a reference.
GtgLossySocket *lossy_socket_new(GSocket *socket, const LossProfile &profile, guint32 seed);
void lossy_socket_set_profile(GtgLossySocket *self, const LossProfile &profile);
LossStats lossy_socket_stats(GtgLossySocket *self);
// A copy of the first datagram that reached the UDP socket (empty if none).
GBytes *lossy_socket_first_delivered(GtgLossySocket *self);
// A copy of the latest datagram that reached the UDP socket (empty if none).
GBytes *lossy_socket_last_delivered(GtgLossySocket *self);
// The sender a receive reports when the caller asks for one: `first` for the
// first datagram received, `later` for every other (both nullable: the real
// sender). A test uses it to pose as several peers; sends then ignore the
// address they name and go to the socket's real peer.
void lossy_socket_report_senders(GtgLossySocket *self, GSocketAddress *first, GSocketAddress *later);
// The first 32 bytes (or fewer) of every datagram that reached the UDP socket.
std::vector<std::vector<guint8>> lossy_socket_delivered_heads(GtgLossySocket *self);
// Sends every held-back datagram now.
void lossy_socket_release_all(GtgLossySocket *self);

}  // namespace gtg_test
