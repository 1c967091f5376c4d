/*
** plan.c — query planning for mvcc tables (xBestIndex): which of SQLite's
** constraints, ORDER BY and LIMIT the store answers, and at what cost.
** Executing a plan (probes, xFilter, xNext) is vtab.c's; the two share only
** the plan word below, so neither calls the other.
**
** The plan word (idxNum):
**     bits 0-4   number of leading key columns fixed by = (or IS, or IN)
**     bit  5     some of them are IN lists handled as a whole
**                (sqlite3_vtab_in), probed in key order
**     bits 6, 7  a lower bound on the next key column; inclusive
**     bits 8, 9  an upper bound on it; inclusive
**     bit  10    scan in descending key order (ORDER BY consumed)
**     bits 11,12 LIMIT, OFFSET pushed down
**     bits 13-20 the access path: 0 the primary key, else the num of the
**                index whose entries give the rows' keys (a num, not a
**                position: indexes come and go while a plan is prepared)
**     bits 21-29 on an index path, fixed column k (k < 9) is compared by
**                IS: a NULL value finds the NULL entries (= finds none)
**     bit  30    covering: the index's entries hold every column the query
**                uses (colUsed), so the rows themselves are not read
** and xFilter's argv holds, in order: the fixed values, the bounds, LIMIT,
** OFFSET.  idxStr describes the plan in words for EXPLAIN QUERY PLAN.
**
** Every access path (the primary key and each ready index) is planned the
** same way, and the cheapest wins (the key on a tie).  An
** index holds NULLs, so on an index path the plan says which fixed columns
** are compared by IS (x IS NULL finds them) rather than = (x = NULL finds
** nothing); a key holds none, so there the two are the same.
**
** Planning a path goes in five steps, each a function below:
**   1. collect   the usable constraints on the path's columns whose
**                collation is the path's (a NOCASE key cannot serve a BINARY
**                comparison): = / IS on a leading run of its columns, then
**                a range on the next one; LIMIT and OFFSET.
**   2. assign    each used constraint an argv slot; every one is omitted
**                from SQLite's own checks, because xFilter gives the values
**                the key column's affinity before it encodes them, exactly
**                as SQLite compares them.
**   3. order     ORDER BY is consumed when it asks for the key columns not
**                fixed to one value, from the first, in one direction
**                relative to how each is stored, each sorted by its own
**                collation being the key's.
**   4. limit     LIMIT and OFFSET are pushed down only when every constraint
**                is handled here and the order (if any) is consumed.
**   5. cost      from the shape of the plan (below).
** A whole key fixed by = is a unique plan (SQLITE_INDEX_SCAN_UNIQUE, one
** row), which also makes SQLite's UPDATE and DELETE one-pass.
*/
#include "mvcc_int.h"

#include "keycodec.h"

/* Costs.  Without statistics the estimates model only the shape of a plan,
** and what matters is their order: a point lookup < a key prefix < a range
** bounded on both sides < a range bounded on one side < a full scan.
** SQLite compares them with the other tables' loops of a join, so they are
** sized like row counts of a large table.  With statistics (gathered by an
** index build and by mvcc_analyze), an index's fixed columns select rows
** / distinct values, so the index that selects fewer rows wins, and a
** full scan beats an index that would fetch most of the table. */
#define PLAN_ROWS_POINT 1.0        /* the whole key fixed: one row */
#define PLAN_ROWS_EQUAL 10.0       /* rows sharing a non-unique index's values */
#define PLAN_ROWS_PREFIX 100.0     /* rows sharing a composite key's prefix */
#define PLAN_ROWS_RANGE 2500.0     /* a range bounded on both sides */
#define PLAN_ROWS_HALF_RANGE 250000.0 /* a range bounded on one side */
#define PLAN_ROWS_FULL 1000000.0   /* the whole table */
#define PLAN_IN_LIST_LEN 10.0      /* values assumed in an IN list */
#define PLAN_SEEK_COST 1.0         /* positioning in the store, per plan */
#define PLAN_INDEX_FETCH 2.0       /* per row found through an index: the
                                   ** read of the row itself, a point read
                                   ** (dearer than a step of a scan) */
#define PLAN_SORT_FACTOR 0.1       /* per row, when SQLite must sort */

/* The constraints a plan uses, as indexes into aConstraint (-1: none). */
typedef struct plan_terms {
  int eq[MVCC_MAX_KEY_COLUMNS]; /* = / IS / IN on key column k */
  int neq;                      /* leading key columns fixed */
  int lo, hi;                   /* bounds on key column neq */
  int lo_op, hi_op;             /* their SQLITE_INDEX_CONSTRAINT_* */
  int limit, offset;
  int is_mask;                  /* index paths: fixed columns using IS */
} plan_terms;

/* Which position of path p column iCol has, or -1. */
static int path_pos(const mvcc_path *p, int iCol) {
  for (int k = 0; k < p->ncol; k++)
    if (p->col[k] == iCol) return k;
  return -1;
}

/* Does constraint i compare by the collation of path column k? */
static bool same_collation(const mvcc_path *p, sqlite3_index_info *info,
                           int i, int k) {
  const char *coll = sqlite3_vtab_collation(info, i);
  return sqlite3_stricmp(coll ? coll : "BINARY", mvcc_coll_name(p->coll[k])) == 0;
}

/* Step 1. */
static void plan_collect(const mvcc_path *path, sqlite3_index_info *info,
                         plan_terms *p) {
  p->lo = p->hi = p->limit = p->offset = -1;
  p->lo_op = p->hi_op = 0;
  p->is_mask = 0;
  for (int k = 0; k < path->ncol; k++) p->eq[k] = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable) continue;
    if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
      p->limit = i;
      continue;
    }
    if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
      p->offset = i;
      continue;
    }
    int k = path_pos(path, c->iColumn);
    if (k < 0 || !same_collation(path, info, i, k)) continue;
    /* x IS NULL comes as ISNULL, with NULL as its value; a key is never
    ** NULL, so there SQLite checks it itself. */
    bool is = c->op == SQLITE_INDEX_CONSTRAINT_IS ||
              (c->op == SQLITE_INDEX_CONSTRAINT_ISNULL && path->index);
    if (is && path->index && k >= MVCC_PLAN_IS_COLUMNS) continue;
    if ((c->op == SQLITE_INDEX_CONSTRAINT_EQ || is) && p->eq[k] < 0) {
      p->eq[k] = i;
      if (is && path->index) p->is_mask |= 1 << k;
    }
  }
  p->neq = 0;
  while (p->neq < path->ncol && p->eq[p->neq] >= 0) p->neq++;
  p->is_mask &= (1 << p->neq) - 1;
  if (p->neq == path->ncol) return;
  int col = path->col[p->neq];
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable || c->iColumn != col || !same_collation(path, info, i, p->neq))
      continue;
    if ((c->op == SQLITE_INDEX_CONSTRAINT_GT ||
         c->op == SQLITE_INDEX_CONSTRAINT_GE) && p->lo < 0) {
      p->lo = i;
      p->lo_op = c->op;
    } else if ((c->op == SQLITE_INDEX_CONSTRAINT_LT ||
                c->op == SQLITE_INDEX_CONSTRAINT_LE) && p->hi < 0) {
      p->hi = i;
      p->hi_op = c->op;
    }
  }
}

/* Which fixed columns take one value (an IN list takes several); whether
** any is an IN list. */
static bool plan_fixed(const mvcc_path *path, sqlite3_index_info *info,
                       const plan_terms *p, bool *fixed) {
  bool has_in = false;
  for (int k = 0; k < path->ncol; k++) fixed[k] = false;
  for (int k = 0; k < p->neq; k++) {
    if (sqlite3_vtab_in(info, p->eq[k], -1)) has_in = true;
    else fixed[k] = true; /* one value: any ORDER BY on it holds */
  }
  return has_in;
}

static void use_constraint(sqlite3_index_info *info, int i, int *argv,
                           bool omit) {
  info->aConstraintUsage[i].argvIndex = ++*argv;
  info->aConstraintUsage[i].omit = omit;
}

/* Step 2: returns the plan word so far. */
static int plan_assign(sqlite3_index_info *info, const plan_terms *p,
                       bool has_in, int *argv) {
  int plan = p->neq | p->is_mask << MVCC_PLAN_IS_SHIFT;
  for (int k = 0; k < p->neq; k++) {
    use_constraint(info, p->eq[k], argv, true);
    if (has_in && sqlite3_vtab_in(info, p->eq[k], -1))
      sqlite3_vtab_in(info, p->eq[k], 1); /* the whole list at once */
  }
  if (has_in) plan |= MVCC_PLAN_IN;
  if (p->lo >= 0) {
    use_constraint(info, p->lo, argv, true);
    plan |= MVCC_PLAN_LO |
            (p->lo_op == SQLITE_INDEX_CONSTRAINT_GE ? MVCC_PLAN_LO_INCL : 0);
  }
  if (p->hi >= 0) {
    use_constraint(info, p->hi, argv, true);
    plan |= MVCC_PLAN_HI |
            (p->hi_op == SQLITE_INDEX_CONSTRAINT_LE ? MVCC_PLAN_HI_INCL : 0);
  }
  return plan;
}

/* Step 3: whether the ORDER BY is consumed; *desc: scan descending.  IN
** lists are probed in path order, so their columns count as ordered. */
static bool plan_order(const mvcc_path *path, const sqlite3_index_info *info,
                       const bool *fixed, bool *desc) {
  *desc = false;
  if (info->nOrderBy == 0) return true;
  int want = 0, dir = -1;
  for (int i = 0; i < info->nOrderBy; i++) {
    int k = path_pos(path, info->aOrderBy[i].iColumn);
    if (k >= 0 && fixed[k]) {
      /* One value under the path's collation; under the column's own,
      ** which the ORDER BY sorts by, a coarser one ('b' = 'B' under
      ** NOCASE) leaves several, in no order the scan promises. */
      if (path->sorts[k] || path->coll[k] == MVCC_COLL_BINARY) continue;
      return false;
    }
    while (want < path->ncol && fixed[want]) want++;
    /* SQLite sorts a column by its own collation, which a path declared
    ** (c COLLATE X) need not share. */
    if (k < 0 || k != want || !path->sorts[k]) return false;
    want++;
    int col_desc = info->aOrderBy[i].desc ^ (path->desc[k] ? 1 : 0);
    if (dir < 0)
      dir = col_desc;
    else if (dir != col_desc)
      return false;
  }
  /* Through a non-unique stretch of an index (not every column ordered),
  ** rows tied on the ordered columns are still in some order: fine. */
  *desc = dir == 1;
  return true;
}

/* Step 4: the plan bits for LIMIT/OFFSET. */
static int plan_limit(sqlite3_index_info *info, const plan_terms *p,
                      bool ordered, int *argv) {
  if (!ordered || p->limit < 0) return 0;
  for (int i = 0; i < info->nConstraint; i++) {
    int op = info->aConstraint[i].op;
    if (op == SQLITE_INDEX_CONSTRAINT_LIMIT ||
        op == SQLITE_INDEX_CONSTRAINT_OFFSET)
      continue;
    if (!info->aConstraintUsage[i].omit) return 0; /* SQLite filters too */
  }
  int plan = MVCC_PLAN_LIMIT;
  use_constraint(info, p->limit, argv, true);
  /* The OFFSET is read but not omitted: SQLite still skips the rows itself.
  ** In a compound SELECT every arm is offered the OFFSET while SQLite counts
  ** it across the arms, so an arm that skipped rows on its own would skip
  ** them twice.  The scan stops after LIMIT + OFFSET. */
  if (p->offset >= 0) {
    use_constraint(info, p->offset, argv, false);
    plan |= MVCC_PLAN_OFFSET;
  }
  return plan;
}

/* Step 5: the estimated rows of path p's plan; *unique: one row at most.
** With statistics (mvcc_path.rows, .ndv), a fixed leading part of k
** columns finds rows / ndv[k - 1] rows and the shapes below scale with
** the table's rows; without, the constants model a large table. */
static double plan_rows(const mvcc_path *path, const plan_terms *p,
                        bool has_in, bool *unique) {
  double rows;
  double scale = path->rows > 0 ? path->rows / PLAN_ROWS_FULL : 1.0;
  *unique = false;
  if (p->neq == path->ncol && !p->is_mask && path->unique) {
    rows = PLAN_ROWS_POINT;
    *unique = !has_in;
  } else if (p->neq > 0 && path->rows > 0 && path->ndv[p->neq - 1] >= 1) {
    rows = path->rows / path->ndv[p->neq - 1];
    if (p->lo >= 0 || p->hi >= 0) rows /= 4; /* and a range on the next */
  } else if (p->neq == path->ncol) {
    rows = PLAN_ROWS_EQUAL * scale;
  } else if (p->neq > 0) {
    rows = PLAN_ROWS_PREFIX * scale;
  } else if (p->lo >= 0 && p->hi >= 0) {
    rows = PLAN_ROWS_RANGE * scale;
  } else if (p->lo >= 0 || p->hi >= 0) {
    rows = PLAN_ROWS_HALF_RANGE * scale;
  } else {
    rows = PLAN_ROWS_FULL * scale;
  }
  if (rows < 1) rows = 1;
  if (has_in) rows *= PLAN_IN_LIST_LEN;
  return rows;
}

/* Do index path p's entries hold every column the query uses?  They carry
** the index's columns and the key's (so the hidden composite key too). */
static bool plan_covers(const mvcc_tabledef *d, const mvcc_path *p,
                        sqlite3_uint64 used) {
  if (!p->index) return false;
  sqlite3_uint64 have = 0;
  for (int k = 0; k < p->ncol; k++)
    if (p->col[k] < 63) have |= 1ULL << p->col[k];
  for (int k = 0; k < d->npk; k++)
    if (d->pk[k] < 63) have |= 1ULL << d->pk[k];
  if (mvcc_hidden_key(d) && d->ncol < 63) have |= 1ULL << d->ncol;
  return (used & ~have) == 0; /* bit 63 (a column past 62) is never had */
}

int mvcc_plan_best_index(const mvcc_tabledef *d, const mvcc_path *paths,
                         int npath, sqlite3_index_info *info) {
  /* Every path is costed without touching info; the cheapest is used. */
  int best = 0;
  double best_cost = 0, best_rows = 0;
  for (int i = 0; i < npath; i++) {
    const mvcc_path *path = &paths[i];
    plan_terms p;
    bool fixed[MVCC_MAX_KEY_COLUMNS], desc, unique;
    plan_collect(path, info, &p);
    if (i > 0 && p.neq == 0 && p.lo < 0 && p.hi < 0 &&
        !(info->nOrderBy > 0))
      continue; /* a full scan of an index only adds reads */
    bool has_in = plan_fixed(path, info, &p, fixed);
    bool ordered = plan_order(path, info, fixed, &desc);
    double rows = plan_rows(path, &p, has_in, &unique);
    bool fetch = i > 0 && !plan_covers(d, path, info->colUsed);
    double cost = rows * (fetch ? 1 + PLAN_INDEX_FETCH : 1) + PLAN_SEEK_COST;
    if (!ordered) cost += rows * PLAN_SORT_FACTOR;
    if (i == 0 || cost < best_cost) {
      best = i;
      best_cost = cost;
      best_rows = rows;
    }
  }
  const mvcc_path *path = &paths[best];
  plan_terms p;
  bool fixed[MVCC_MAX_KEY_COLUMNS], desc, unique;
  int argv = 0;
  plan_collect(path, info, &p);
  bool has_in = plan_fixed(path, info, &p, fixed);
  plan_rows(path, &p, has_in, &unique);
  int plan = plan_assign(info, &p, has_in, &argv);
  bool ordered = plan_order(path, info, fixed, &desc);
  if (ordered && info->nOrderBy > 0) {
    info->orderByConsumed = 1;
    if (desc) plan |= MVCC_PLAN_DESC;
  }
  plan |= plan_limit(info, &p, ordered, &argv);
  plan |= path->num << MVCC_PLAN_PATH_SHIFT;
  if (plan_covers(d, path, info->colUsed)) plan |= MVCC_PLAN_COVERING;
  if (unique) info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  info->estimatedRows = (sqlite3_int64)best_rows;
  info->estimatedCost = best_cost;
  info->idxNum = plan;
  info->idxStr = mvcc_plan_describe(d, path, plan);
  info->needToFreeIdxStr = 1;
  return info->idxStr ? SQLITE_OK : SQLITE_NOMEM;
}

char *mvcc_plan_describe(const mvcc_tabledef *d, const mvcc_path *p,
                         int plan) {
  const mvcc_path path = *p;
  sqlite3_str *s = sqlite3_str_new(NULL);
  int neq = plan & MVCC_PLAN_NEQ;
  const char *what = path.index ? "unique " : "key ";
  if (path.name) {
    sqlite3_str_appendf(s, "index %s ", path.name);
    what = "";
  } else if (path.index) {
    sqlite3_str_appendall(s, "unique(");
    for (int k = 0; k < path.ncol; k++)
      sqlite3_str_appendf(s, "%s%s", k ? ", " : "", d->cols[path.col[k]].name);
    sqlite3_str_appendall(s, ") ");
    what = "";
  }
  if (neq == 0 && !(plan & (MVCC_PLAN_LO | MVCC_PLAN_HI)))
    sqlite3_str_appendall(s, path.index ? "scan" : "full scan");
  for (int k = 0; k < neq; k++)
    sqlite3_str_appendf(s, "%s%s%s?", k ? " AND " : what,
                        d->cols[path.col[k]].name,
                        plan >> (MVCC_PLAN_IS_SHIFT + k) & 1 ? " IS " : "=");
  if (plan & MVCC_PLAN_IN) sqlite3_str_appendall(s, " (IN lists)");
  if (plan & (MVCC_PLAN_LO | MVCC_PLAN_HI)) {
    const char *c = d->cols[path.col[neq]].name;
    sqlite3_str_appendf(s, "%s%srange", neq ? ", " : "", what);
    if (plan & MVCC_PLAN_LO)
      sqlite3_str_appendf(s, " %s%s?", c, plan & MVCC_PLAN_LO_INCL ? ">=" : ">");
    if (plan & MVCC_PLAN_HI)
      sqlite3_str_appendf(s, " %s%s?", c, plan & MVCC_PLAN_HI_INCL ? "<=" : "<");
  }
  if (plan & MVCC_PLAN_DESC) sqlite3_str_appendall(s, ", descending");
  if (plan & MVCC_PLAN_LIMIT) sqlite3_str_appendall(s, ", LIMIT");
  if (plan & MVCC_PLAN_OFFSET) sqlite3_str_appendall(s, " OFFSET");
  if (plan & MVCC_PLAN_COVERING) sqlite3_str_appendall(s, ", covering");
  return sqlite3_str_finish(s);
}
