/*
** infolog.cc — RocksDB's info log (<store>/LOG) written by a logger that
** survives a full disk.
**
** RocksDB's own file logger writes LOG through a WritableFileWriter: once
** one of its writes has failed (no space), its next message trips an
** assertion (`sync_without_flush_called_`, kept in Debian's build) and
** aborts the host process, and RocksDB logs exactly then (its recovery
** thread reports the error it is recovering from).  This logger formats
** each message into a buffer and hands it to write(2) on a descriptor
** opened with O_APPEND: a message that does not fit on the disk is lost,
** nothing else happens.  Messages below WARN are dropped.  Every opening
** appends to the same LOG (a process that only reads the store, reader.c,
** too: whole lines, O_APPEND); one past KV_LOG_ROTATE_BYTES when a store
** opens becomes LOG.old.
**
** It builds the C API's logger handle itself (its layout: capi.hh); the
** C API has no constructor for one in 7.8.
*/
#include "capi.hh"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <memory>
#include <string>

/* A LOG this large when a store opens is moved to LOG.old. */
#define KV_LOG_ROTATE_BYTES (4 << 20)

namespace {

class TolerantLogger : public rocksdb::Logger {
 public:
  explicit TolerantLogger(int fd)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), fd_(fd) {}
  ~TolerantLogger() override {
    if (fd_ >= 0) close(fd_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char *format, va_list ap) override {
    char buf[1024];
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    struct tm t;
    localtime_r(&tv.tv_sec, &t);
    int n = snprintf(buf, sizeof buf, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                     t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                     t.tm_min, t.tm_sec, (long)tv.tv_usec);
    if (n < 0) return;
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, format, ap);
    if (m < 0) return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof buf - 2) len = sizeof buf - 2; /* truncated */
    if (buf[len - 1] != '\n') buf[len++] = '\n';
    ssize_t w = write(fd_, buf, len); /* lost when the disk is full */
    (void)w;
  }

 private:
  int fd_;
};

}  // namespace

/* A logger writing to <dir>/LOG, or NULL (then RocksDB's own is used).
** The caller hands it to rocksdb_options_set_info_log, which shares it,
** and then frees the handle with kv_engine_logger_free. */
extern "C" rocksdb_logger_t *kv_engine_logger_create(const char *dir) {
  std::string log = std::string(dir) + "/LOG";
  struct stat st;
  if (stat(log.c_str(), &st) == 0 && st.st_size > KV_LOG_ROTATE_BYTES)
    rename(log.c_str(), (log + ".old").c_str());
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  rocksdb_logger_t *l = new (std::nothrow) rocksdb_logger_t;
  if (!l) {
    close(fd);
    return nullptr;
  }
  l->rep.reset(new (std::nothrow) TolerantLogger(fd));
  if (!l->rep) {
    close(fd);
    delete l;
    return nullptr;
  }
  return l;
}

extern "C" void kv_engine_logger_free(rocksdb_logger_t *l) { delete l; }
