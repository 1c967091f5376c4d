/*
** resume.cc — DB::Resume() for C.
**
** RocksDB 7.8's C API has no DB::Resume(): a RocksDB instance that stopped
** writes after an error (a failed WAL write or fsync, a failed flush or
** compaction: its "background error") accepts them again only after
** Resume() succeeds or the instance is reopened.  Resume() clears the
** error when it is recoverable, then flushes every memtable to table files
** and moves to a new WAL, so no later write or fsync touches the WAL file
** whose write failed; it fails (and the error stays) while the cause, such
** as a full disk, persists.  On an instance without an error it returns at
** once.  engine.c calls it under its recovery protocol (FAILURE AND
** RECOVERY there).
**
** The C API's handle is `struct rocksdb_t { DB* rep; };` (RocksDB's
** db/c.cc, unchanged since the C API began), repeated here as refresh.cc
** repeats the iterator's.
*/
#include <rocksdb/db.h>

#include <cstdlib>
#include <cstring>
#include <string>

struct rocksdb_t {
  rocksdb::DB *rep;
};

/* 0 when db accepts writes again; otherwise -1 with *errmsg a malloc'd
** message (the error that remains). */
extern "C" int kv_engine_resume(rocksdb_t *db, char **errmsg) {
  rocksdb::Status s = db->rep->Resume();
  if (s.ok()) return 0;
  *errmsg = strdup(s.ToString().c_str());
  return -1;
}
