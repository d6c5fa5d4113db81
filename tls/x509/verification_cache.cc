#include "verification_cache.h"

#include "database.h"

#include <atomic>
#include <list>
#include <mutex>
#include <unordered_map>

namespace gtg {

namespace {

constexpr gint64 kLifetimeUs = 60 * G_USEC_PER_SEC;
constexpr size_t kMaxEntries = 512;

struct Entry {
  std::string key;
  GTlsCertificateFlags flags;
  gint64 stored_us;
};

struct Cache {
  std::mutex mutex;
  std::list<Entry> entries;  // newest first
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
};

Cache &cache()
{
  static Cache *instance = new Cache;  // used until exit
  return *instance;
}

// A number naming `database` for as long as it lives (a pointer could be
// reused by a later database).
guint64 database_serial(GTlsDatabase *database)
{
  static GQuark quark = g_quark_from_static_string("gtg-verification-serial");
  static std::atomic<guint64> next{1};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto serial = GPOINTER_TO_SIZE(g_object_get_qdata(G_OBJECT(database), quark));
  if (serial == 0) {
    serial = static_cast<gsize>(next.fetch_add(1));
    g_object_set_qdata(G_OBJECT(database), quark, GSIZE_TO_POINTER(serial));
  }
  return serial;
}

}  // namespace

std::string verification_cache_key(GTlsDatabase *database, const char *purpose,
                                   GSocketConnectable *identity, const gnutls_datum_t *certs,
                                   unsigned n_certs)
{
  if (!database || !G_TYPE_CHECK_INSTANCE_TYPE(database, GTG_TYPE_DATABASE) || n_certs == 0)
    return {};
  GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
  for (unsigned i = 0; i < n_certs; i++) {
    guint32 size = certs[i].size;
    g_checksum_update(sum, reinterpret_cast<const guchar *>(&size), sizeof size);
    g_checksum_update(sum, certs[i].data, certs[i].size);
  }
  std::string key = std::to_string(database_serial(database)) + "|" + (purpose ? purpose : "") + "|";
  if (identity) {
    CharPtr text(g_socket_connectable_to_string(identity));
    key += text ? text.get() : "?";
  }
  key += "|";
  key += g_checksum_get_string(sum);
  g_checksum_free(sum);
  return key;
}

bool verification_cache_lookup(const std::string &key, GTlsCertificateFlags *out_flags)
{
  if (key.empty())
    return false;
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.index.find(key);
  if (it == c.index.end())
    return false;
  if (g_get_monotonic_time() - it->second->stored_us > kLifetimeUs) {
    c.entries.erase(it->second);
    c.index.erase(it);
    return false;
  }
  *out_flags = it->second->flags;
  return true;
}

void verification_cache_store(const std::string &key, GTlsCertificateFlags flags)
{
  if (key.empty())
    return;
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.index.find(key); it != c.index.end()) {
    c.entries.erase(it->second);
    c.index.erase(it);
  }
  c.entries.push_front(Entry{key, flags, g_get_monotonic_time()});
  c.index[key] = c.entries.begin();
  if (c.entries.size() > kMaxEntries) {
    c.index.erase(c.entries.back().key);
    c.entries.pop_back();
  }
}

}  // namespace gtg
