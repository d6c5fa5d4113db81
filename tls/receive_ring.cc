#include "receive_ring.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace gtg {

namespace {

// The largest DTLS record GnuTLS accepts (2^14 bytes of plaintext plus
// expansion) with its header, rounded up.
constexpr size_t kRecordSlot = 16384 + 2048 + 64;
// A GRO-coalesced buffer: up to an IP datagram's 64 KiB.
constexpr size_t kCoalescedSlot = 65536;
constexpr size_t kControlSpace = CMSG_SPACE(sizeof(int));

}  // namespace

int ReceiveRing::fill(int fd, unsigned max, int *out_errno)
{
  pieces_.clear();
  next_ = 0;
  max = std::clamp(max, 1u, kMaxBatch);
  // GRO is the application's choice on its socket: asked on the first
  // fill (a system call per fill costs the receiver a few percent), and
  // learnt from a coalesced datagram if it enabled GRO later.
  if (!gro_known_) {
    int gro = 0;
    socklen_t gro_len = sizeof gro;
    gro_ = getsockopt(fd, SOL_UDP, UDP_GRO, &gro, &gro_len) == 0 && gro != 0;
    gro_known_ = true;
  }
  size_t slot = gro_ ? kCoalescedSlot : kRecordSlot;
  if (capacity_ < slot * max) {
    // Not value-initialised: the kernel writes only what it receives.
    storage_.reset(new guint8[slot * max]);
    capacity_ = slot * max;
  }
  headers_.resize(max);
  vectors_.resize(max);
  controls_.resize(kControlSpace * max);
  for (unsigned k = 0; k < max; k++) {
    vectors_[k].iov_base = storage_.get() + slot * k;
    vectors_[k].iov_len = slot;
    memset(&headers_[k], 0, sizeof headers_[k]);
    headers_[k].msg_hdr.msg_iov = &vectors_[k];
    headers_[k].msg_hdr.msg_iovlen = 1;
    headers_[k].msg_hdr.msg_control = controls_.data() + kControlSpace * k;
    headers_[k].msg_hdr.msg_controllen = kControlSpace;
  }
  int r;
  do
    r = recvmmsg(fd, headers_.data(), max, MSG_DONTWAIT, nullptr);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int code = errno;
    if (code == EAGAIN || code == EWOULDBLOCK || code == ECONNREFUSED)
      return 0;
    *out_errno = code;
    return -1;
  }
  for (int k = 0; k < r; k++) {
    msghdr &h = headers_[static_cast<size_t>(k)].msg_hdr;
    size_t size = headers_[static_cast<size_t>(k)].msg_len;
    size_t offset = slot * static_cast<size_t>(k);
    size_t segment = size;
    for (cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int value = 0;
        memcpy(&value, CMSG_DATA(c), sizeof value);
        if (value > 0)
          segment = static_cast<size_t>(value);
        gro_ = true;  // enabled after the first fill: larger slots from now on
      }
    }
    if (size == 0) {
      pieces_.push_back({offset, 0});
      continue;
    }
    for (size_t at = 0; at < size; at += segment)
      pieces_.push_back({offset + at, std::min(segment, size - at)});
  }
  return r;
}

size_t ReceiveRing::take(void *buf, size_t len)
{
  const Piece &piece = pieces_[next_++];
  size_t n = std::min(len, piece.size);
  memcpy(buf, storage_.get() + piece.offset, n);
  return n;
}

}  // namespace gtg
