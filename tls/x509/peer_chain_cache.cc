#include "peer_chain_cache.h"

#include "certificate.h"
#include "owners.h"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace gtg {

namespace {

constexpr size_t kCapacity = 32;

struct Entry {
  std::string der;  // each certificate as a 4-byte length and its DER
  Ref<GTlsCertificate> chain;
  guint64 last_used = 0;
};

struct Cache {
  std::mutex mutex;
  std::vector<Entry> entries;  // guarded by mutex
  guint64 clock = 0;           // guarded by mutex
};

Cache &cache()
{
  static Cache *instance = new Cache;  // process lifetime, like the module
  return *instance;
}

std::string chain_key(const gnutls_datum_t *certs, unsigned n)
{
  std::string key;
  for (unsigned i = 0; i < n; i++) {
    guint32 size = certs[i].size;
    key.append(reinterpret_cast<const char *>(&size), sizeof size);
    key.append(reinterpret_cast<const char *>(certs[i].data), certs[i].size);
  }
  return key;
}

}  // namespace

GTlsCertificate *peer_chain_get(const gnutls_datum_t *certs, unsigned n)
{
  if (n == 0)
    return nullptr;
  std::string key = chain_key(certs, n);
  Cache &c = cache();
  {
    std::lock_guard lock(c.mutex);
    for (Entry &e : c.entries) {
      if (e.der == key) {
        e.last_used = ++c.clock;
        return static_cast<GTlsCertificate *>(g_object_ref(e.chain.get()));
      }
    }
  }
  // Parsed outside the lock; two threads that race store two equal entries
  // at worst, and the older one ages out.
  GTlsCertificate *chain = certificate_new_from_peer_chain(certs, n);
  if (!chain)
    return nullptr;
  std::lock_guard lock(c.mutex);
  Entry *slot = nullptr;
  if (c.entries.size() < kCapacity) {
    slot = &c.entries.emplace_back();
  } else {
    slot = &c.entries.front();
    for (Entry &e : c.entries) {
      if (e.last_used < slot->last_used)
        slot = &e;
    }
  }
  slot->der = std::move(key);
  slot->chain = Ref<GTlsCertificate>::retain(chain);
  slot->last_used = ++c.clock;
  return chain;
}

}  // namespace gtg
