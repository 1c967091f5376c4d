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
** Also here: the period of RocksDB's own retries after a retryable error
** (DBOptions::bgerror_resume_retry_interval, 1 s by default, absent from
** the C API).  Closing a store waits out the retry under way, so a failed
** store took a second to close.
**
** It reaches the C++ objects through the C handles' layouts (capi.hh).
*/
#include "capi.hh"

#include <cstdlib>
#include <cstring>
#include <string>

extern "C" void kv_engine_set_resume_interval(rocksdb_options_t *o,
                                              uint64_t us) {
  o->rep.bgerror_resume_retry_interval = us;
}

/* 0 when db accepts writes again; otherwise -1 with *errmsg a malloc'd
** message (the error that remains), or -2 when RocksDB will never resume
** this instance: its error is fatal or unrecoverable (a failed WAL write
** other than for lack of space is), and only reopening it helps. */
extern "C" int kv_engine_resume(rocksdb_t *db, char **errmsg) {
  rocksdb::Status s = db->rep->Resume();
  if (s.ok()) return 0;
  *errmsg = strdup(s.ToString().c_str());
  return s.severity() >= rocksdb::Status::Severity::kFatalError ? -2 : -1;
}
