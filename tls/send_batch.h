// SendBatch: the DTLS records of one send_messages call, sent together.
//
// While a batch is open the DatagramTransport's push function appends each
// record GnuTLS produces here instead of sending it (the transport is
// "corked"); send() then hands them to the kernel with as few system calls
// as it allows: one sendmmsg() for the whole batch, in which every run of
// records of equal size (the last of a run may be shorter) is one UDP
// generic segmentation offload message (UDP_SEGMENT) when the kernel and the
// socket accept it. A socket that refuses segmentation (EINVAL, EIO,
// EOPNOTSUPP, ENOPROTOOPT) turns it off for this batch object for good and
// the records go as plain datagrams, still in one sendmmsg().
// Buffering policy: one contiguous buffer of record bytes (one copy of each
// record, from GnuTLS's buffer), kept between batches so a steady sender
// allocates nothing. Records that are never sent (the socket stayed full)
// are dropped by the next clear(): DTLS tolerates the sequence gap.
// Threads: used by one writer at a time (the DTLS connection's write gate).
#pragma once

#include <glib.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include <vector>

namespace gtg {

class SendBatch {
public:
  // Forgets every record.
  void clear();
  // Appends one datagram (a record GnuTLS pushed).
  void add(const void *data, size_t len);
  // The number of datagrams added since clear().
  size_t count() const { return ends_.size(); }

  // Sends datagrams [first, count()) on `fd` without blocking. Returns how
  // many of them the kernel took (in order); *out_errno is 0 when all went,
  // EAGAIN when the socket is full, or the error that stopped the batch.
  size_t send(int fd, size_t first, int *out_errno);

  // Whether UDP_SEGMENT is still tried.
  bool segmentation() const { return segmentation_; }
  // Never tries UDP_SEGMENT (a socket that is not UDP).
  void disable_segmentation() { segmentation_ = false; }

private:
  size_t start_of(size_t i) const { return i == 0 ? 0 : ends_[i - 1]; }
  size_t size_of(size_t i) const { return ends_[i] - start_of(i); }
  // Fills headers_ for datagrams from `first`; returns how many headers,
  // each covering datagrams_in_[k] datagrams.
  size_t prepare(size_t first);

  std::vector<guint8> bytes_;
  std::vector<size_t> ends_;  // end offset of each datagram in bytes_
  bool segmentation_ = true;
  // Scratch for one sendmmsg() call, kept across calls.
  std::vector<struct mmsghdr> headers_;
  std::vector<struct iovec> vectors_;
  std::vector<size_t> datagrams_in_;
  std::vector<guint8> controls_;
};

}  // namespace gtg
