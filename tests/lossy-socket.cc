#include "lossy-socket.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <vector>

namespace {

// A datagram held back, leaving at `due` or (reordered) after the next
// datagram that leaves, whichever comes first.
struct Held {
  std::vector<guint8> data;
  GSocketAddress *to = nullptr;  // (owned, nullable)
  gint64 due = 0;
  bool until_next = false;
};

constexpr gint64 kReorderMaxUs = 50 * 1000;

// Everything C++ in the object, placement-new'd in _init.
struct State {
  std::mutex mutex;
  GSocket *socket = nullptr;  // (owned)
  GRand *rand = nullptr;      // (owned)
  gtg_test::LossProfile profile;
  gtg_test::LossStats stats;
  std::deque<Held> held;  // guarded by mutex
  GBytes *first = nullptr;  // (owned, nullable)
  GBytes *last = nullptr;   // (owned, nullable)
  std::vector<std::vector<guint8>> heads;  // the first bytes of each delivered datagram
  GSocketAddress *first_sender = nullptr;  // (owned, nullable)
  GSocketAddress *later_sender = nullptr;  // (owned, nullable)
  guint received = 0;
};

}  // namespace

struct _GtgLossySocket {
  GObject parent_instance;
  State state;
};

static void datagram_based_init(GDatagramBasedInterface *iface) noexcept;

G_DEFINE_FINAL_TYPE_WITH_CODE(GtgLossySocket, gtg_lossy_socket, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_DATAGRAM_BASED, datagram_based_init))

static State &state_of(gpointer object)
{
  return GTG_LOSSY_SOCKET(object)->state;
}

static void gtg_lossy_socket_init(GtgLossySocket *self)
{
  new (&self->state) State();
}

static void finalize(GObject *object) noexcept
{
  State &s = state_of(object);
  for (Held &h : s.held)
    g_clear_object(&h.to);
  g_clear_object(&s.socket);
  if (s.rand)
    g_rand_free(s.rand);
  if (s.first)
    g_bytes_unref(s.first);
  if (s.last)
    g_bytes_unref(s.last);
  g_clear_object(&s.first_sender);
  g_clear_object(&s.later_sender);
  s.~State();
  G_OBJECT_CLASS(gtg_lossy_socket_parent_class)->finalize(object);
}

static void gtg_lossy_socket_class_init(GtgLossySocketClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = finalize;
}

// Sends one datagram to the UDP socket now, without blocking. Caller holds
// the lock.
static bool deliver(State &s, const guint8 *data, gsize len, GSocketAddress *to, GError **error)
{
  GOutputVector vector{data, len};
  gsize sent = 0;
  GPollableReturn r = g_socket_send_message_with_timeout(s.socket, to, &vector, 1, nullptr, 0, 0, 0,
                                                         &sent, nullptr,
                                                         error);
  if (r != G_POLLABLE_RETURN_OK) {
    if (r == G_POLLABLE_RETURN_WOULD_BLOCK)
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "UDP socket is full");
    return false;
  }
  s.stats.delivered++;
  if (!s.first)
    s.first = g_bytes_new(data, len);
  if (s.last)
    g_bytes_unref(s.last);
  s.last = g_bytes_new(data, len);
  s.heads.emplace_back(data, data + std::min<gsize>(len, 32));
  return true;
}

// Sends a held-back datagram; a failure loses it, as the network may.
static void deliver_held(State &s, Held &h)
{
  if (!deliver(s, h.data.data(), h.data.size(), h.to, nullptr))
    s.stats.dropped++;
  g_clear_object(&h.to);
}

// Sends the held-back datagrams that are due (all reordered ones when
// `after_send`). Caller holds the lock.
static void release_due(State &s, bool after_send)
{
  gint64 now = g_get_monotonic_time();
  for (auto it = s.held.begin(); it != s.held.end();) {
    if (it->due <= now || (after_send && it->until_next)) {
      deliver_held(s, *it);
      it = s.held.erase(it);
    } else {
      ++it;
    }
  }
}

// Microseconds until the next held-back datagram is due, -1 when none is
// held. Caller holds the lock.
static gint64 next_due_in(State &s)
{
  if (s.held.empty())
    return -1;
  gint64 now = g_get_monotonic_time();
  gint64 earliest = G_MAXINT64;
  for (const Held &h : s.held)
    earliest = std::min(earliest, h.due);
  return std::max<gint64>(0, earliest - now);
}

// Applies the profile to one datagram the user sends.
static bool send_one(State &s, const GOutputMessage &m, GError **error)
{
  std::vector<guint8> data;
  for (guint v = 0; v < m.num_vectors; v++) {
    const auto *b = static_cast<const guint8 *>(m.vectors[v].buffer);
    data.insert(data.end(), b, b + m.vectors[v].size);
  }
  s.stats.sent++;
  // Posing as other senders: replies go to the real peer of the connected socket.
  GSocketAddress *to = s.first_sender || s.later_sender ? nullptr : m.address;
  const gtg_test::LossProfile &p = s.profile;
  // Draw every decision each time so a profile change does not shift later ones.
  double drop = g_rand_double(s.rand), dup = g_rand_double(s.rand);
  double reorder = g_rand_double(s.rand), delay = g_rand_double(s.rand);
  if (drop < p.drop || (p.drop_if && p.drop_if(data.data(), data.size()))) {
    s.stats.dropped++;
    return true;
  }
  gint64 now = g_get_monotonic_time();
  auto hold = [&](gint64 due, bool until_next) {
    Held h;
    h.data = data;
    h.to = to ? G_SOCKET_ADDRESS(g_object_ref(to)) : nullptr;
    h.due = due;
    h.until_next = until_next;
    s.held.push_back(std::move(h));
  };
  if (reorder < p.reorder || (p.reorder_if && p.reorder_if(data.data(), data.size()))) {
    s.stats.reordered++;
    hold(now + kReorderMaxUs, true);
  } else if (delay < p.delay) {
    s.stats.delayed++;
    hold(now + static_cast<gint64>(p.delay_ms) * 1000, false);
  } else {
    if (!deliver(s, data.data(), data.size(), to, error))
      return false;
    release_due(s, true);
  }
  if (dup < p.duplicate) {
    s.stats.duplicated++;
    hold(now + static_cast<gint64>(p.delay_ms) * 1000, false);
  }
  return true;
}

static gint send_messages(GDatagramBased *base, GOutputMessage *messages, guint num_messages,
                          gint, gint64, GCancellable *cancellable, GError **error) noexcept
{
  State &s = state_of(base);
  if (g_cancellable_set_error_if_cancelled(cancellable, error))
    return -1;
  std::lock_guard lock(s.mutex);
  release_due(s, false);
  for (guint i = 0; i < num_messages; i++) {
    GError *local = nullptr;
    if (!send_one(s, messages[i], &local)) {
      if (i > 0) {
        g_error_free(local);
        return static_cast<gint>(i);
      }
      g_propagate_error(error, local);
      return -1;
    }
    guint total = 0;
    for (guint v = 0; v < messages[i].num_vectors; v++)
      total += static_cast<guint>(messages[i].vectors[v].size);
    messages[i].bytes_sent = total;
  }
  return static_cast<gint>(num_messages);
}

static GIOCondition condition_check(GDatagramBased *base, GIOCondition condition) noexcept
{
  State &s = state_of(base);
  std::lock_guard lock(s.mutex);
  release_due(s, false);
  return g_socket_condition_check(s.socket, condition);
}

static gboolean condition_wait(GDatagramBased *base, GIOCondition condition, gint64 timeout,
                               GCancellable *cancellable, GError **error) noexcept
{
  State &s = state_of(base);
  gint64 deadline = timeout > 0 ? g_get_monotonic_time() + timeout : -1;
  for (;;) {
    gint64 held_in;
    {
      std::lock_guard lock(s.mutex);
      release_due(s, false);
      held_in = next_due_in(s);
    }
    if (g_cancellable_set_error_if_cancelled(cancellable, error))
      return FALSE;
    if (g_socket_condition_check(s.socket, condition) & condition)
      return TRUE;
    gint64 left = deadline < 0 ? -1 : std::max<gint64>(0, deadline - g_get_monotonic_time());
    if (timeout == 0 || left == 0) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Socket I/O timed out");
      return FALSE;
    }
    gint64 wait = left;
    if (held_in >= 0 && (wait < 0 || held_in < wait))
      wait = std::max<gint64>(held_in, 1000);
    GError *local = nullptr;
    if (!g_socket_condition_timed_wait(s.socket, condition, wait, cancellable, &local)) {
      if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
        g_propagate_error(error, local);
        return FALSE;
      }
      g_error_free(local);  // our own deadline is checked above
    }
  }
}

static gint receive_messages(GDatagramBased *base, GInputMessage *messages, guint num_messages,
                             gint flags, gint64 timeout, GCancellable *cancellable,
                             GError **error) noexcept
{
  State &s = state_of(base);
  gint64 deadline = timeout > 0 ? g_get_monotonic_time() + timeout : -1;
  for (int spurious = 0;; spurious++) {
    if (timeout != 0) {
      gint64 left = deadline < 0 ? -1 : std::max<gint64>(1, deadline - g_get_monotonic_time());
      if (!condition_wait(base, G_IO_IN, left, cancellable, error))
        return -1;
    } else {
      std::lock_guard lock(s.mutex);
      release_due(s, false);
    }
    GError *local = nullptr;
    gint n = g_datagram_based_receive_messages(G_DATAGRAM_BASED(s.socket), messages, num_messages,
                                               flags, 0, cancellable, &local);
    // Readable but nothing there (a checksum failure, say): wait again.
    if (n < 0 && timeout != 0 && spurious < 100 &&
        g_error_matches(local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_error_free(local);
      continue;
    }
    if (n < 0) {
      g_propagate_error(error, local);
      return n;
    }
    std::lock_guard lock(s.mutex);
    for (gint i = 0; i < n; i++, s.received++) {
      GSocketAddress *posed = s.received == 0 ? s.first_sender : s.later_sender;
      if (posed && messages[i].address) {
        g_clear_object(messages[i].address);
        *messages[i].address = G_SOCKET_ADDRESS(g_object_ref(posed));
      }
    }
    return n;
  }
}

// The source: polls the UDP socket (a child source) and wakes up when a
// held-back datagram is due; calls back only when `condition` holds or the
// cancellable fired.
struct LossySource {
  GSource source;
  GtgLossySocket *owner;  // (owned)
  GIOCondition condition;
  GCancellable *cancellable;  // (owned, nullable)
};

static gboolean lossy_source_prepare(GSource *source, gint *timeout) noexcept
{
  auto *ls = reinterpret_cast<LossySource *>(source);
  State &s = state_of(ls->owner);
  std::lock_guard lock(s.mutex);
  gint64 due_in = next_due_in(s);
  *timeout = due_in < 0 ? -1 : static_cast<gint>((due_in + 999) / 1000);
  return due_in == 0;
}

static gboolean lossy_source_check(GSource *source) noexcept
{
  auto *ls = reinterpret_cast<LossySource *>(source);
  State &s = state_of(ls->owner);
  std::lock_guard lock(s.mutex);
  return next_due_in(s) == 0;
}

static gboolean lossy_source_dispatch(GSource *source, GSourceFunc callback, gpointer data) noexcept
{
  auto *ls = reinterpret_cast<LossySource *>(source);
  GIOCondition ready = condition_check(G_DATAGRAM_BASED(ls->owner), ls->condition);
  bool cancelled = ls->cancellable && g_cancellable_is_cancelled(ls->cancellable);
  if (!ready && !cancelled)
    return G_SOURCE_CONTINUE;  // woke up only to release held-back datagrams
  auto func = reinterpret_cast<GDatagramBasedSourceFunc>(reinterpret_cast<void (*)()>(callback));
  if (!func)
    return G_SOURCE_REMOVE;
  return func(G_DATAGRAM_BASED(ls->owner), ready, data);
}

static void lossy_source_finalize(GSource *source) noexcept
{
  auto *ls = reinterpret_cast<LossySource *>(source);
  g_object_unref(ls->owner);
  g_clear_object(&ls->cancellable);
}

// What g_source_set_closure and g_source_set_dummy_callback need to call a
// GClosure as a GDatagramBasedSourceFunc (GIO's own sources do the same).
static gboolean lossy_source_closure_callback(GDatagramBased *base, GIOCondition condition, gpointer data) noexcept
{
  GValue params[2] = {G_VALUE_INIT, G_VALUE_INIT};
  GValue result = G_VALUE_INIT;
  g_value_init(&result, G_TYPE_BOOLEAN);
  g_value_init(&params[0], G_TYPE_DATAGRAM_BASED);
  g_value_set_object(&params[0], base);
  g_value_init(&params[1], G_TYPE_IO_CONDITION);
  g_value_set_flags(&params[1], condition);
  g_closure_invoke(static_cast<GClosure *>(data), &result, 2, params, nullptr);
  gboolean keep = g_value_get_boolean(&result);
  g_value_unset(&result);
  g_value_unset(&params[0]);
  g_value_unset(&params[1]);
  return keep;
}

static GSourceFuncs lossy_source_funcs = {
    lossy_source_prepare, lossy_source_check, lossy_source_dispatch, lossy_source_finalize,
    reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(lossy_source_closure_callback)),
    nullptr,
};

static GSource *create_source(GDatagramBased *base, GIOCondition condition,
                              GCancellable *cancellable) noexcept
{
  GSource *source = g_source_new(&lossy_source_funcs, sizeof(LossySource));
  g_source_set_static_name(source, "GtgLossySocket");
  auto *ls = reinterpret_cast<LossySource *>(source);
  ls->owner = GTG_LOSSY_SOCKET(g_object_ref(base));
  ls->condition = condition;
  ls->cancellable = cancellable ? G_CANCELLABLE(g_object_ref(cancellable)) : nullptr;
  GSource *child = g_socket_create_source(state_of(base).socket, condition, cancellable);
  g_source_set_dummy_callback(child);
  g_source_add_child_source(source, child);
  g_source_unref(child);
  return source;
}

static void datagram_based_init(GDatagramBasedInterface *iface) noexcept
{
  iface->receive_messages = receive_messages;
  iface->send_messages = send_messages;
  iface->create_source = create_source;
  iface->condition_check = condition_check;
  iface->condition_wait = condition_wait;
}

namespace gtg_test {

GtgLossySocket *lossy_socket_new(GSocket *socket, const LossProfile &profile, guint32 seed)
{
  auto *self = GTG_LOSSY_SOCKET(g_object_new(GTG_TYPE_LOSSY_SOCKET, nullptr));
  State &s = self->state;
  s.socket = G_SOCKET(g_object_ref(socket));
  s.rand = g_rand_new_with_seed(seed);
  s.profile = profile;
  return self;
}

void lossy_socket_set_profile(GtgLossySocket *self, const LossProfile &profile)
{
  std::lock_guard lock(self->state.mutex);
  self->state.profile = profile;
}

LossStats lossy_socket_stats(GtgLossySocket *self)
{
  std::lock_guard lock(self->state.mutex);
  return self->state.stats;
}

GBytes *lossy_socket_first_delivered(GtgLossySocket *self)
{
  std::lock_guard lock(self->state.mutex);
  return self->state.first ? g_bytes_ref(self->state.first) : g_bytes_new(nullptr, 0);
}

GBytes *lossy_socket_last_delivered(GtgLossySocket *self)
{
  std::lock_guard lock(self->state.mutex);
  return self->state.last ? g_bytes_ref(self->state.last) : g_bytes_new(nullptr, 0);
}

void lossy_socket_report_senders(GtgLossySocket *self, GSocketAddress *first, GSocketAddress *later)
{
  State &s = self->state;
  std::lock_guard lock(s.mutex);
  g_set_object(&s.first_sender, first);
  g_set_object(&s.later_sender, later);
}

std::vector<std::vector<guint8>> lossy_socket_delivered_heads(GtgLossySocket *self)
{
  std::lock_guard lock(self->state.mutex);
  return self->state.heads;
}

void lossy_socket_release_all(GtgLossySocket *self)
{
  State &s = self->state;
  std::lock_guard lock(s.mutex);
  for (Held &h : s.held)
    deliver_held(s, h);
  s.held.clear();
}

}  // namespace gtg_test
