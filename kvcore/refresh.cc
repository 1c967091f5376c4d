/*
** refresh.cc — Iterator::Refresh() for C (resume.cc is the other C++ shim).
**
** RocksDB 7.8's C API can create and destroy iterators but not refresh one,
** and a RocksDB iterator reads the data as of its creation.  Reads after
** another transaction's commit therefore paid for a new iterator each time
** (a MergingIterator over every memtable and table file, allocated in a
** fresh arena).  Refresh() re-reads the latest sequence number; as long as
** no flush or compaction changed the column family's files meanwhile (the
** "super version"), that is all it does.  engine.c keeps iterators in pools
** and refreshes them instead of creating new ones.
** It reaches the C++ iterator through the C handle's layout (capi.hh).
*/
#include "capi.hh"

#include <cstdlib>
#include <cstring>
#include <string>

/* Brings it up to the latest data.  0 on success; otherwise -1 with *errmsg
** a malloc'd message.  The iterator must be positioned again afterwards. */
extern "C" int kv_engine_iter_refresh(rocksdb_iterator_t *it, char **errmsg) {
  rocksdb::Status s = it->rep->Refresh();
  if (s.ok()) return 0;
  *errmsg = strdup(s.ToString().c_str());
  return -1;
}
