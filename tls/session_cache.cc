#include "session_cache.h"

#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gtg {

namespace {

constexpr size_t kMaxEntries = 1024;

struct Cache {
  std::mutex mutex;
  // Most recently stored at the front; the back is dropped when full.
  std::list<std::pair<std::string, std::vector<guint8>>> entries;
  std::unordered_map<std::string, decltype(entries)::iterator> index;
};

Cache &cache()
{
  static Cache *instance = new Cache;  // never destroyed: used until exit
  return *instance;
}

}  // namespace

void session_cache_store(const std::string &key, const gnutls_datum_t &data)
{
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.index.find(key); it != c.index.end()) {
    c.entries.erase(it->second);
    c.index.erase(it);
  }
  c.entries.emplace_front(key, std::vector<guint8>(data.data, data.data + data.size));
  c.index[key] = c.entries.begin();
  if (c.entries.size() > kMaxEntries) {
    c.index.erase(c.entries.back().first);
    c.entries.pop_back();
  }
}

bool session_cache_take(const std::string &key, GnutlsBuffer &out)
{
  Cache &c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.index.find(key);
  if (it == c.index.end())
    return false;
  const std::vector<guint8> &bytes = it->second->second;
  gnutls_datum_t *d = out.out();
  d->data = static_cast<unsigned char *>(gnutls_malloc(bytes.size()));
  d->size = static_cast<unsigned>(bytes.size());
  memcpy(d->data, bytes.data(), bytes.size());
  c.entries.erase(it->second);
  c.index.erase(it);
  return true;
}

const gnutls_datum_t *session_ticket_key()
{
  static gnutls_datum_t key{nullptr, 0};
  static std::once_flag once;
  std::call_once(once, [] { gnutls_session_ticket_key_generate(&key); });
  return &key;
}

}  // namespace gtg
