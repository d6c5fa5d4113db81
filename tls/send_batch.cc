#include "send_batch.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace gtg {

namespace {

// sendmmsg() takes at most UIO_MAXIOV headers per call.
constexpr size_t kMaxHeaders = 1024;
// Segments per UDP_SEGMENT message: the kernel's UDP_MAX_SEGMENTS (64 up to
// Linux 6.4, 128 since) and the 64 KiB an IP datagram can carry.
constexpr size_t kMaxSegments = 64;
constexpr size_t kMaxSegmentedBytes = 65000;
constexpr size_t kControlSpace = CMSG_SPACE(sizeof(uint16_t));

// What a socket answers when it cannot segment: no GSO in the kernel or the
// device (EOPNOTSUPP, ENOPROTOOPT), a segment size over the path MTU or no
// checksums (EINVAL), an IPsec route (EIO).
bool refuses_segmentation(int code)
{
  return code == EINVAL || code == EIO || code == EOPNOTSUPP || code == ENOPROTOOPT;
}

}  // namespace

void SendBatch::clear()
{
  bytes_.clear();
  ends_.clear();
}

void SendBatch::add(const void *data, size_t len)
{
  const auto *b = static_cast<const guint8 *>(data);
  bytes_.insert(bytes_.end(), b, b + len);
  ends_.push_back(bytes_.size());
}

size_t SendBatch::prepare(size_t first)
{
  // Group the datagrams: a run of equal sizes (the last may be shorter) is
  // one segmented message, anything else one datagram per header.
  datagrams_in_.clear();
  size_t segmented = 0;
  for (size_t i = first; i < count() && datagrams_in_.size() < kMaxHeaders;) {
    size_t j = i + 1;
    if (segmentation_) {
      size_t segment = size_of(i);
      size_t total = segment;
      while (j < count() && j - i < kMaxSegments) {
        size_t size = size_of(j);
        if (size > segment || total + size > kMaxSegmentedBytes)
          break;
        total += size;
        j++;
        if (size < segment)
          break;
      }
    }
    datagrams_in_.push_back(j - i);
    segmented += j - i > 1;
    i = j;
  }
  size_t n = datagrams_in_.size();
  headers_.resize(n);
  vectors_.resize(n);
  controls_.assign(segmented * kControlSpace, 0);
  size_t next = first;
  guint8 *control = controls_.data();
  for (size_t k = 0; k < n; k++) {
    size_t last = next + datagrams_in_[k] - 1;
    vectors_[k].iov_base = bytes_.data() + start_of(next);
    vectors_[k].iov_len = ends_[last] - start_of(next);
    msghdr &h = headers_[k].msg_hdr;
    memset(&headers_[k], 0, sizeof headers_[k]);
    h.msg_iov = &vectors_[k];
    h.msg_iovlen = 1;
    if (datagrams_in_[k] > 1) {
      h.msg_control = control;
      h.msg_controllen = kControlSpace;
      cmsghdr *c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      auto segment = static_cast<uint16_t>(size_of(next));
      memcpy(CMSG_DATA(c), &segment, sizeof segment);
      control += kControlSpace;
    }
    next = last + 1;
  }
  return n;
}

size_t SendBatch::send(int fd, size_t first, int *out_errno)
{
  *out_errno = 0;
  size_t done = first;
  int refused = 0;
  while (done < count()) {
    size_t n = prepare(done);
    int r = sendmmsg(fd, headers_.data(), static_cast<unsigned>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      for (int k = 0; k < r; k++)
        done += datagrams_in_[static_cast<size_t>(k)];
      continue;
    }
    int code = r == 0 ? EAGAIN : errno;
    if (code == EINTR)
      continue;
    if (segmentation_ && datagrams_in_[0] > 1 && refuses_segmentation(code)) {
      g_debug("UDP segmentation offload refused (%s): sending datagrams one by one", g_strerror(code));
      segmentation_ = false;
      continue;
    }
    // The ICMP error of an earlier datagram (the peer not listening yet) is
    // reported once and this datagram was not sent: try it again.
    if (code == ECONNREFUSED && refused++ < 4)
      continue;
    *out_errno = code;
    break;
  }
  return done - first;
}

}  // namespace gtg
