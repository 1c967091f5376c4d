/*
** tsbound.cc — time-bound iteration: an iterator that skips the table
** files holding only versions older than a timestamp (CockroachDB's
** time-bound iterator, under its MVCCIncrementalIterator), for change feeds
** (history.c) that would otherwise read every key of a table each poll.
**
** Every table file RocksDB writes for the data family (a flush, a
** compaction, an ingested commit built by SstFileWriter) gets the user
** property "kvcore.ts.max": the newest version timestamp among its keys,
** gathered by a TablePropertiesCollector as they are added.  An iterator
** from kv_engine_iter_from_raw() has a ReadOptions::table_filter that
** skips a file whose kvcore.ts.max is below `from`; a file without the
** property (written before it existed, or holding only range deletions) is
** read, and so are the memtables.  So the iterator returns every version
** at or above `from`, and some below it, and possibly versions that a
** deletion in a skipped file hides: callers learn from it which keys may
** have changed and read those keys through an ordinary iterator.
*/
#include "capi.hh"

#include <rocksdb/table_properties.h>

#include <cstdint>
#include <cstring>
#include <string>

extern "C" int kv_vkey_ts(const char *ek, size_t eklen, uint64_t *wall,
                          uint32_t *logical);

static const char kTsMax[] = "kvcore.ts.max";

static void put_be(char *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (char)(unsigned char)v;
}

static uint64_t get_be(const char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | (unsigned char)p[i];
  return v;
}

namespace {

class TsMaxCollector : public rocksdb::TablePropertiesCollector {
 public:
  rocksdb::Status AddUserKey(const rocksdb::Slice &key,
                             const rocksdb::Slice &, rocksdb::EntryType,
                             rocksdb::SequenceNumber, uint64_t) override {
    uint64_t w;
    uint32_t l;
    if (kv_vkey_ts(key.data(), key.size(), &w, &l) &&
        (!have_ || w > wall_ || (w == wall_ && l > logical_))) {
      have_ = true;
      wall_ = w;
      logical_ = l;
    }
    return rocksdb::Status::OK();
  }
  rocksdb::Status Finish(rocksdb::UserCollectedProperties *props) override {
    if (have_) {
      char v[12];
      put_be(v, wall_, 8);
      put_be(v + 8, logical_, 4);
      (*props)[kTsMax] = std::string(v, sizeof v);
    }
    return rocksdb::Status::OK();
  }
  rocksdb::UserCollectedProperties GetReadableProperties() const override {
    return {};
  }
  const char *Name() const override { return "kvcore.TsMaxCollector"; }

 private:
  bool have_ = false;
  uint64_t wall_ = 0;
  uint32_t logical_ = 0;
};

class TsMaxFactory : public rocksdb::TablePropertiesCollectorFactory {
 public:
  rocksdb::TablePropertiesCollector *CreateTablePropertiesCollector(
      rocksdb::TablePropertiesCollectorFactory::Context) override {
    return new TsMaxCollector();
  }
  const char *Name() const override { return "kvcore.TsMaxCollector"; }
};

}  // namespace

/* Adds the collector to the options of the data family (engine.c). */
extern "C" void kv_engine_add_ts_collector(rocksdb_options_t *o) {
  o->rep.table_properties_collector_factories.push_back(
      std::make_shared<TsMaxFactory>());
}

/* A total-order iterator over cf that skips table files whose newest
** version is below (wall, logical); NULL when out of memory.  The caller
** destroys it with rocksdb_iter_destroy. */
extern "C" rocksdb_iterator_t *kv_engine_iter_from_raw(
    rocksdb_t *db, rocksdb_column_family_handle_t *cf, uint64_t wall,
    uint32_t logical) {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  ro.table_filter = [wall, logical](const rocksdb::TableProperties &p) {
    auto it = p.user_collected_properties.find(kTsMax);
    if (it == p.user_collected_properties.end() || it->second.size() != 12)
      return true;
    uint64_t w = get_be(it->second.data(), 8);
    uint32_t l = (uint32_t)get_be(it->second.data() + 8, 4);
    return w > wall || (w == wall && l >= logical);
  };
  rocksdb::Iterator *i = db->rep->NewIterator(ro, cf->rep);
  if (!i) return nullptr;
  rocksdb_iterator_t *h = new (std::nothrow) rocksdb_iterator_t;
  if (!h) {
    delete i;
    return nullptr;
  }
  h->rep = i;
  return h;
}
