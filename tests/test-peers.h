// Independent TLS peers for the connection tests (test-connection.cc):
// a raw GnuTLS server and client on plain blocking sockets, each on its own
// thread, that report what only the peer can see (the SNI received, whether
// a session was resumed); and peer programs (gnutls-serv, openssl, ...) run
// with GSubprocess and killed with this process. Every wait is bounded.
#pragma once

#include <gio/gio.h>

#include <string>
#include <vector>

namespace conn_test {

// ---------------------------------------------------------------------------
// Plain sockets on 127.0.0.1

// A listening socket at a kernel-chosen port; asserts on failure.
int posix_listen(guint16 *out_port);

// A socket connected to `port`, or -1.
int posix_connect(guint16 port);

// A port that was free a moment ago.
guint16 free_port();

// Waits (at most 5 s) until something accepts on `port`.
bool wait_for_port(guint16 port);

// ---------------------------------------------------------------------------
// Raw GnuTLS peers

// Accepts `connections` connections one after another on its own thread;
// for each, records the SNI it received and whether the session was
// resumed (session tickets on, one key for all), sends "hi\n", and reads
// until the client closes. Default GnuTLS priority; the server certificate
// and chain of tests/files.
struct RawServer {
  int listen_fd = -1;
  guint16 port = 0;
  int connections = 0;
  GThread *thread = nullptr;
  // Read after join():
  std::vector<std::string> sni;  // "" when none
  std::vector<bool> resumed;
  std::string failure;  // "" when all went well

  explicit RawServer(int connections);
  void join();

 private:
  static gpointer main(gpointer data);
};

// Connects `connections` times to `port` on its own thread, naming
// "localhost" and offering the previous session each time (no certificate
// verification); for each, records whether it was resumed and everything it
// read until the server closed.
struct RawClient {
  guint16 port;
  int connections;
  GThread *thread = nullptr;
  // Read after join():
  std::vector<bool> resumed;
  std::vector<std::string> received;
  std::string failure;  // "" when all went well

  RawClient(guint16 port, int connections);
  void join();

 private:
  static gpointer main(gpointer data);
};

// ---------------------------------------------------------------------------
// Peer programs

// The full path of program `name` in PATH; false when there is none.
bool have_program(const char *name, std::string *out_path);

// A peer program; killed (SIGKILL) when this object goes or when this
// process dies.
struct PeerProcess {
  GSubprocess *process = nullptr;

  PeerProcess(const std::vector<std::string> &argv, GSubprocessFlags flags);
  ~PeerProcess();
  PeerProcess(const PeerProcess &) = delete;
  PeerProcess &operator=(const PeerProcess &) = delete;

  // Everything on stdout until EOF, or until `cancellable` fires.
  std::string read_stdout(GCancellable *cancellable);
};

}  // namespace conn_test
