/*
** capi.hh — the layouts of RocksDB's C API handles, for kvcore's C++ shims
** (refresh.cc, resume.cc, infolog.cc, tsbound.cc).
**
** RocksDB 7.8's C API (db/c.cc) wraps each C++ object in a struct whose
** first member is the object or a pointer to it; these layouts have not
** changed since the C API began.  The shims reach through them for what the
** C API lacks, and this is the one place that states them.  Only `rep` is
** ever read; a handle is never allocated here except an iterator, which
** rocksdb_iter_destroy frees as c.cc allocates it (new, holding a new
** Iterator).
*/
#ifndef KV_CAPI_HH
#define KV_CAPI_HH

#include <memory>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

struct rocksdb_t {
  rocksdb::DB *rep;
};
struct rocksdb_options_t {
  rocksdb::Options rep;
};
struct rocksdb_iterator_t {
  rocksdb::Iterator *rep;
};
struct rocksdb_column_family_handle_t {
  rocksdb::ColumnFamilyHandle *rep;
};
struct rocksdb_logger_t {
  std::shared_ptr<rocksdb::Logger> rep;
};

#endif /* KV_CAPI_HH */
