// ReceiveRing: datagrams received ahead by one recvmmsg() call, handed to
// GnuTLS one at a time.
//
// The DatagramTransport fills it during a receive_messages call for several
// messages on a plain connected socket: one recvmmsg() takes up to as many
// datagrams as the caller asked for (at most kMaxBatch), and each pull that
// follows copies the next one into GnuTLS's buffer, so GnuTLS decrypts them
// in order and drops a bad one without losing the others. A socket with
// UDP_GRO enabled may deliver several datagrams coalesced into one buffer
// with their segment size in a control message; they are split again here.
// Whether GRO is on is asked of the socket on the first fill; a coalesced
// datagram received later (GRO enabled since) switches to larger slots.
// Buffering policy: one slot per datagram asked for, each big enough for
// the largest DTLS record (64 KiB when GRO is on); the storage is allocated
// on first use, never written before the kernel fills it (only the pages a
// datagram touches are committed) and kept for later batches. Datagrams
// left when a call ends are served to the next read.
// Threads: the input side has one user at a time (see Transport).
#pragma once

#include <glib.h>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <memory>
#include <vector>

namespace gtg {

class ReceiveRing {
public:
  // Datagrams one fill() takes at most.
  static constexpr unsigned kMaxBatch = 64;

  // Whether every datagram received has been taken.
  bool empty() const { return next_ == pieces_.size(); }
  // Receives up to `max` (at most kMaxBatch) datagrams from `fd` without
  // blocking into the ring, which must be empty. Returns how many the kernel
  // delivered (a GRO-coalesced buffer counts once): 0 when none was waiting
  // (or an ICMP error of an earlier datagram was reported), -1 with
  // *out_errno on any other failure.
  int fill(int fd, unsigned max, int *out_errno);
  // Copies the next datagram to `buf` (truncated to `len`) and returns how
  // many bytes it copied. Only when !empty().
  size_t take(void *buf, size_t len);

private:
  struct Piece {
    size_t offset;
    size_t size;
  };
  std::unique_ptr<guint8[]> storage_;
  size_t capacity_ = 0;
  std::vector<Piece> pieces_;
  size_t next_ = 0;
  std::vector<struct mmsghdr> headers_;
  std::vector<struct iovec> vectors_;
  std::vector<guint8> controls_;
  bool gro_known_ = false;  // gro_ was asked of the socket
  bool gro_ = false;        // the socket may coalesce datagrams (UDP_GRO)
};

}  // namespace gtg
