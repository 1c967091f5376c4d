/*
** histcheck.h — a serializability checker for list-append histories, in
** the manner of Elle (Kingsbury & Alvaro, VLDB 2020).
**
** A stress test records every transaction it ran: its operations, its
** outcome, and optionally when it was invoked and when it completed.  The
** checker infers the write-write, write-read and read-write dependencies
** between committed transactions from the lists that reads observed, and
** reports a dependency cycle (or a non-cycle anomaly) if there is one.
**
** The workload: keys are int64; each key holds a list of int64.  An
** operation either appends a value to the list at a key, or reads the whole
** list at a key.  Every appended value must be unique across the history
** (the test guarantees it), so a value names its writer.
**
** Usage:
**     hc_history *h = hc_create();
**     hc_op ops[] = {{.is_read = 1, .key = 1, .list = seen, .list_len = n},
**                    {.key = 1, .value = 42}};
**     hc_add_txn(h, HC_COMMITTED, ops, 2, start_ns, end_ns);
**     ...
**     hc_result r;
**     if (hc_check(h, HC_CHECK_REALTIME, &r) == 0 && r.anomaly != HC_OK)
**       printf("%s\n", r.desc);
**     hc_destroy(h);
**
** A history is used by one thread at a time.  Nothing here keeps global
** state; any number of histories may be checked on different threads.
*/
#ifndef HISTCHECK_H
#define HISTCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct hc_history hc_history; /* opaque */

/* Transaction outcomes. */
enum {
  HC_COMMITTED = 1, /* known to have committed */
  HC_ABORTED = 2,   /* known not to have committed */
  HC_UNKNOWN = 3    /* indeterminate: treated as committed iff a read of a
                    ** committed (or so-treated) transaction observed one of
                    ** its appended values; otherwise ignored entirely */
};

typedef struct hc_op {
  int is_read;         /* 0 = append, 1 = read */
  int64_t key;
  int64_t value;       /* append: the value appended (unused for reads) */
  const int64_t *list; /* read: the observed list, oldest first (borrowed;
                       ** hc_add_txn copies it) */
  size_t list_len;     /* read: number of elements (0 = empty list) */
} hc_op;

/* Returns a new empty history, or NULL when out of memory.  The caller
** frees it with hc_destroy(). */
hc_history *hc_create(void);

/* Frees a history and everything it copied.  NULL is a no-op. */
void hc_destroy(hc_history *h);

/* Appends one transaction.  status is HC_COMMITTED, HC_ABORTED or
** HC_UNKNOWN.  ops[0..nops) are in the order the transaction ran them;
** everything is copied, nothing is borrowed past the call.  start_ns and
** end_ns are monotonic nanoseconds of invocation and completion; the bounds
** count as known iff end_ns != 0 and start_ns <= end_ns.  The end of an
** HC_UNKNOWN transaction does not bound its commit (only its start is used).
** Returns the transaction's index (0, 1, 2, ... in call order; descriptions
** name it "T<index>"), or -1 on out-of-memory or a bad argument (unknown
** status, ops NULL with nops > 0, a read with list NULL and list_len > 0,
** or more than 2^31 - 1 transactions or 2^32 - 2 operations in the
** history).  On -1 the history is unchanged. */
long hc_add_txn(hc_history *h, int status, const hc_op *ops, size_t nops,
                uint64_t start_ns, uint64_t end_ns);

/* Anomaly codes, most specific cycle kinds first. */
enum {
  HC_OK = 0,
  HC_ANOMALY_G0,       /* write cycle: ww edges only */
  HC_ANOMALY_G1A,      /* aborted read: a read saw an aborted txn's append */
  HC_ANOMALY_G1B,      /* intermediate read: a read ended at a value that
                       ** its writer later followed with another append to
                       ** the same key */
  HC_ANOMALY_G1C,      /* circular information flow: ww/wr edges only */
  HC_ANOMALY_GSINGLE,  /* a cycle with exactly one rw edge (read skew,
                       ** lost update) */
  HC_ANOMALY_G2,       /* a dependency cycle with two or more rw edges
                       ** (write skew) */
  HC_ANOMALY_REALTIME, /* every cycle needs a real-time edge: serializable
                       ** perhaps, but not strictly serializable */
  HC_ANOMALY_INCOMPATIBLE_ORDER, /* two reads of one key are not prefixes of
                       ** one another, a list holds a value twice, or a value
                       ** was appended twice (an invalid history) */
  HC_ANOMALY_GARBAGE,  /* a read saw a value nobody appended to that key */
  HC_ANOMALY_INTERNAL  /* a read disagrees with its own txn's earlier reads
                       ** and appends of that key */
};

/* Flags for hc_check(). */
enum {
  HC_CHECK_REALTIME = 1 /* add real-time edges: T1 -> T2 when T1 completed
                        ** before T2 was invoked (checks strict
                        ** serializability) */
};

typedef struct hc_result {
  size_t ntxns;      /* transactions in the history */
  size_t ncommitted; /* of which committed, or UNKNOWN treated so */
  size_t nedges_ww, nedges_wr, nedges_rw; /* dependency edges inferred */
  size_t nedges_rt;  /* txn->barrier plus barrier->txn real-time edges */
  int anomaly;       /* HC_OK, or the HC_ANOMALY_* found */
  char desc[1024];   /* "" when HC_OK; else the anomaly's name and one
                     ** offending cycle or operation, e.g.
                     ** "G2: T3 -rw(k5)-> T7 -rw(k9)-> T3"; truncated with
                     ** "..." when too long */
} hc_result;

/* Checks the history and fills *r.  Non-cycle anomalies are looked for
** first, in this order: INCOMPATIBLE_ORDER for a value appended twice,
** INTERNAL, GARBAGE / G1A / G1B (per read), INCOMPATIBLE_ORDER; the first
** one found is reported and the edge counts stay 0.  Otherwise the
** dependency graph is built and the most specific cycle anomaly over all
** strongly connected components is reported (G0, G1C, GSINGLE, G2, then
** REALTIME).  The edge counts are filled in whenever the graph is built.
** Returns 0 when the check ran (see r->anomaly), -1 when out of memory.
** The history is not modified and may be checked again. */
int hc_check(hc_history *h, int flags, hc_result *r);

/* Returns a static name for an anomaly code ("ok", "G0", "G-single", ...). */
const char *hc_anomaly_name(int anomaly);

#endif /* HISTCHECK_H */
