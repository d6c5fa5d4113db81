// Shared by the libFuzzer targets in tests/fuzz: loading our module from the
// build tree, reading a fuzz input piece by piece, in-memory transports for
// TLS (a GIOStream) and DTLS (a GDatagramBased), and a real loopback
// handshake for the targets that fuzz a connection after its handshake.
// Everything runs on the fuzzer's thread; nothing here uses the network.
#pragma once

#include <gio/gio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fuzz {

// Points GIO at the module in the build tree (GIO_MODULE_DIR) and checks
// that it is the default TLS backend; aborts otherwise. Call once, from
// LLVMFuzzerInitialize, before anything else touches GIO.
void init();

// The path of `name` in tests/files.
std::string data_path(const char *name);

// Reads a fuzz input front to back. Running past the end yields zeros and
// empty pieces, never an error.
class Reader {
 public:
  Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  uint8_t byte();
  // A piece prefixed by its 16-bit big-endian length (clamped to what is left).
  std::string piece();
  // Everything not read yet.
  std::string rest();
  bool empty() const { return pos_ >= size_; }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

// Appends `data` to `out` as a piece Reader::piece() reads back.
void append_piece(std::string &out, const std::string &data);

// A GIOStream whose input is `input` then end-of-file and whose output is
// kept in memory (transfer full). Both halves are pollable and always ready.
GIOStream *memory_stream(const std::string &input);

// What was written to a memory_stream().
std::string memory_stream_output(GIOStream *stream);

// A GDatagramBased that receives `datagrams` in order, then fails every
// receive with G_IO_ERROR_CONNECTION_CLOSED, and keeps what is sent
// (transfer full). Always ready for input and output.
GDatagramBased *memory_datagrams(std::vector<std::string> datagrams);

// The datagrams sent so far through a memory_datagrams().
std::vector<std::string> memory_datagrams_sent(GDatagramBased *base);

// Two connected UNIX stream sockets as GIOStreams (transfer full each).
void socket_pair(GIOStream **out_a, GIOStream **out_b);

// Writes `data` straight to the socket under `stream` (bypassing any TLS
// on top of it), then shuts its writing side down.
void inject_and_shutdown(GIOStream *stream, const std::string &data);

// Runs the handshakes of `client` and `server` to the end, asynchronously on
// a private main context; returns whether both succeeded (within 10 s).
bool handshake_pair(GTlsConnection *client, GTlsConnection *server);

// A server certificate with its key and chain (tests/files), loaded once.
GTlsCertificate *server_certificate();

// Connects a handler to "accept-certificate" that accepts any certificate,
// so fuzzed handshakes get past verification.
void accept_any_certificate(GTlsConnection *conn);

// Reads from `stream` until end-of-file or an error, at most `limit` bytes.
void drain(GIOStream *stream, size_t limit);

}  // namespace fuzz
