/*
** metrics.c: the metrics collector (metrics.h has the cost model).
**
** Design note. A series is one (name, label string) pair, registered once
** in a global table (reg_lock) with its family (name, kind). Each thread
** that updates metrics owns a shard: a hash table from "name\0labels" to
** its own slot of the series (a counter's total, a histogram's buckets),
** under a mutex that only the scraper contends. A thread that exits leaves
** its shard (and its counts) to the next new thread. A scrape takes
** reg_lock, sums every shard's slots into the series, and writes families
** sorted by name, series in the order they were first met.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "metrics.h"

/* Prometheus's default buckets (client_golang DefBuckets) and +Inf. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NB ((int)(sizeof buckets / sizeof buckets[0]))

struct family;
struct wp_metrics_series {
  struct family *fam;
  char *labels;
  struct wp_metrics_series *next; /* in its family, in the order met */
  struct wp_metrics_series *hnext; /* in the registry's hash chain */
  uint64_t hash;
  _Atomic uint64_t gauge; /* a gauge's value: the bits of a double */
  /* sums of a scrape (under reg_lock) */
  double sum;
  uint64_t count, bk[NB];
};

struct family {
  char *name;
  const char *help;
  enum wp_metrics_kind kind;
  struct wp_metrics_series *first, *last;
  struct family *next;
};

struct slot {
  struct wp_metrics_series *s; /* NULL: empty */
  uint64_t hash;
  double sum;        /* a counter's total, a histogram's sum */
  uint64_t count, bk[NB];
};

struct shard {
  pthread_mutex_t mu;
  struct slot *slots;
  size_t cap, n;
  _Atomic int orphan;
  struct shard *next;
};

static _Atomic int enabled;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *families;
static struct wp_metrics_series **reg; /* hash chains */
static size_t reg_cap, reg_n;
static struct shard *shards;
static pthread_key_t shard_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Thread_local struct shard *my_shard;

void wp_metrics_enable(void) { atomic_store(&enabled, 1); }
int wp_metrics_enabled(void) { return atomic_load_explicit(&enabled, memory_order_relaxed); }

static int name_char(char c, int first, int colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

static int check(const char *what, const char *name, size_t len, int colon, char *err,
                 size_t errlen) {
  if (len == 0) {
    snprintf(err, errlen, "%s name is empty", what);
    return -1;
  }
  if (len > 200) {
    snprintf(err, errlen, "%s name is too long (at most 200 characters)", what);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    if (!name_char(name[i], i == 0, colon)) {
      snprintf(err, errlen, "invalid %s name \"%.*s\": %s", what, (int)len, name,
               colon ? "letters, digits, '_' and ':', not starting with a digit"
                     : "letters, digits and '_', not starting with a digit");
      return -1;
    }
  }
  return 0;
}

int wp_metrics_check_name(const char *name, size_t len, char *err, size_t errlen) {
  return check("metric", name, len, 1, err, errlen);
}

int wp_metrics_check_label(const char *name, size_t len, char *err, size_t errlen) {
  if (check("label", name, len, 0, err, errlen) != 0) return -1;
  if (len >= 2 && name[0] == '_' && name[1] == '_') {
    snprintf(err, errlen, "invalid label name \"%.*s\": names starting with \"__\" are reserved",
             (int)len, name);
    return -1;
  }
  return 0;
}

int wp_metrics_label(struct wp_buf *b, const char *name, const char *value, size_t vlen) {
  if (b->len && wp_buf_append(b, ",", 1)) return -1;
  if (wp_buf_append(b, name, strlen(name)) || wp_buf_append(b, "=\"", 2)) return -1;
  for (size_t i = 0; i < vlen; i++) {
    const char *e = value[i] == '\\' ? "\\\\" : value[i] == '"' ? "\\\"" : value[i] == '\n' ? "\\n"
                                                                                              : NULL;
    if (e ? wp_buf_append(b, e, 2) : wp_buf_append(b, value + i, 1)) return -1;
  }
  return wp_buf_append(b, "\"", 1);
}

static uint64_t hash2(const char *a, const char *b) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *a; a++) h = (h ^ (unsigned char)*a) * 0x100000001b3ull;
  h = (h ^ 0xff) * 0x100000001b3ull;
  for (; *b; b++) h = (h ^ (unsigned char)*b) * 0x100000001b3ull;
  return h;
}

/* ---- the registry (reg_lock held) ---- */

static struct family *family_get(const char *name, enum wp_metrics_kind kind, char *err,
                                 size_t errlen) {
  static const char *const kn[] = {"", "counter", "gauge", "histogram"};
  for (struct family *f = families; f; f = f->next) {
    if (strcmp(f->name, name)) continue;
    if (f->kind != kind) {
      snprintf(err, errlen, "metric %s is a %s, not a %s", name, kn[f->kind], kn[kind]);
      return NULL;
    }
    return f;
  }
  struct family *f = wp_calloc(1, sizeof *f);
  if (!f || !(f->name = wp_strdup(name))) {
    wp_free(f);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  f->kind = kind;
  f->next = families;
  families = f;
  return f;
}

static struct wp_metrics_series *series_get(const char *name, const char *labels, uint64_t h,
                                            enum wp_metrics_kind kind, char *err,
                                            size_t errlen) {
  if (reg_n >= reg_cap / 2) {
    size_t nc = reg_cap ? reg_cap * 2 : 64;
    struct wp_metrics_series **nr = wp_calloc(nc, sizeof *nr);
    if (!nr) goto oom;
    for (size_t i = 0; i < reg_cap; i++)
      for (struct wp_metrics_series *s = reg[i], *nx; s; s = nx) {
        nx = s->hnext;
        s->hnext = nr[s->hash & (nc - 1)];
        nr[s->hash & (nc - 1)] = s;
      }
    wp_free(reg);
    reg = nr;
    reg_cap = nc;
  }
  for (struct wp_metrics_series *s = reg[h & (reg_cap - 1)]; s; s = s->hnext)
    if (s->hash == h && !strcmp(s->fam->name, name) && !strcmp(s->labels, labels)) {
      if (s->fam->kind != kind) return family_get(name, kind, err, errlen), NULL;
      return s;
    }
  struct family *f = family_get(name, kind, err, errlen);
  if (!f) return NULL;
  struct wp_metrics_series *s = wp_calloc(1, sizeof *s);
  if (!s || !(s->labels = wp_strdup(labels))) {
    wp_free(s);
    goto oom;
  }
  s->fam = f;
  s->hash = h;
  double z = 0;
  uint64_t bits;
  memcpy(&bits, &z, 8);
  atomic_init(&s->gauge, bits);
  if (f->last)
    f->last->next = s;
  else
    f->first = s;
  f->last = s;
  s->hnext = reg[h & (reg_cap - 1)];
  reg[h & (reg_cap - 1)] = s;
  reg_n++;
  return s;
oom:
  snprintf(err, errlen, "out of memory");
  return NULL;
}

int wp_metrics_describe(const char *name, enum wp_metrics_kind kind, const char *help) {
  char err[160];
  pthread_mutex_lock(&reg_lock);
  struct family *f = family_get(name, kind, err, sizeof err);
  if (f) f->help = help;
  pthread_mutex_unlock(&reg_lock);
  return f ? 0 : -1;
}

/* ---- shards ---- */

static void shard_orphan(void *p) { atomic_store(&((struct shard *)p)->orphan, 1); }
static void make_key(void) { pthread_key_create(&shard_key, shard_orphan); }

static struct shard *shard_get(void) {
  if (my_shard) return my_shard;
  pthread_once(&key_once, make_key);
  pthread_mutex_lock(&reg_lock);
  struct shard *sh = NULL;
  for (struct shard *x = shards; x && !sh; x = x->next)
    if (atomic_load(&x->orphan)) sh = x;
  if (sh) {
    atomic_store(&sh->orphan, 0);
  } else if ((sh = wp_calloc(1, sizeof *sh))) {
    pthread_mutex_init(&sh->mu, NULL);
    sh->next = shards;
    shards = sh;
  }
  pthread_mutex_unlock(&reg_lock);
  if (sh) pthread_setspecific(shard_key, sh);
  return my_shard = sh;
}

/* Lock order: reg_lock before a shard's mu (the scrape takes both, in that
** order), never the other way. An update therefore never holds its shard's
** mu while it takes reg_lock: the shard's owner thread is the only one that
** changes its table (slots, cap, n), so it looks a slot up without the mu,
** meets a new series under reg_lock alone, and takes the mu only to insert
** the slot (the scrape reads the table) and to add to it. */

/* The slot of (name, labels) in sh, or NULL. The owner thread only. */
static struct slot *slot_find(struct shard *sh, const char *name, const char *labels,
                              uint64_t h) {
  if (!sh->cap) return NULL;
  for (size_t i = h & (sh->cap - 1);; i = (i + 1) & (sh->cap - 1)) {
    struct slot *sl = &sh->slots[i];
    if (!sl->s) return NULL;
    if (sl->hash == h && !strcmp(sl->s->fam->name, name) && !strcmp(sl->s->labels, labels))
      return sl;
  }
}

/* Inserts a slot for s in sh (the owner thread, sh->mu held). NULL when out
** of memory. */
static struct slot *slot_insert(struct shard *sh, struct wp_metrics_series *s, uint64_t h) {
  if (sh->n + 1 > sh->cap / 2) {
    size_t nc = sh->cap ? sh->cap * 2 : 32;
    struct slot *ns = wp_calloc(nc, sizeof *ns);
    if (!ns) return NULL;
    for (size_t i = 0; i < sh->cap; i++) {
      if (!sh->slots[i].s) continue;
      size_t j = sh->slots[i].hash & (nc - 1);
      while (ns[j].s) j = (j + 1) & (nc - 1);
      ns[j] = sh->slots[i];
    }
    wp_free(sh->slots);
    sh->slots = ns;
    sh->cap = nc;
  }
  size_t j = h & (sh->cap - 1);
  while (sh->slots[j].s) j = (j + 1) & (sh->cap - 1);
  sh->slots[j].s = s;
  sh->slots[j].hash = h;
  sh->n++;
  return &sh->slots[j];
}

/* The slot of (name, labels) in this thread's shard sh, made on first use
** (no lock held on entry or return). NULL with err: another kind, no
** memory. */
static struct slot *slot_get(struct shard *sh, const char *name, const char *labels,
                             enum wp_metrics_kind kind, char *err, size_t errlen) {
  uint64_t h = hash2(name, labels);
  struct slot *sl = slot_find(sh, name, labels, h);
  if (sl) {
    if (sl->s->fam->kind == kind) return sl;
    pthread_mutex_lock(&reg_lock);
    family_get(name, kind, err, errlen); /* writes the error */
    pthread_mutex_unlock(&reg_lock);
    return NULL;
  }
  pthread_mutex_lock(&reg_lock);
  struct wp_metrics_series *s = series_get(name, labels, h, kind, err, errlen);
  pthread_mutex_unlock(&reg_lock);
  if (!s) return NULL;
  pthread_mutex_lock(&sh->mu);
  sl = slot_insert(sh, s, h);
  pthread_mutex_unlock(&sh->mu);
  if (!sl) snprintf(err, errlen, "out of memory");
  return sl;
}

struct wp_metrics_series *wp_metrics_series(const char *name, const char *labels, char *err,
                                            size_t errlen) {
  pthread_mutex_lock(&reg_lock);
  struct wp_metrics_series *s =
      series_get(name, labels, hash2(name, labels), WP_METRICS_COUNTER, err, errlen);
  pthread_mutex_unlock(&reg_lock);
  return s;
}

int wp_metrics_count(struct wp_metrics_series *s, double v) {
  struct shard *sh = shard_get();
  if (!sh) return -1;
  struct slot *sl = NULL;
  if (sh->cap) /* by the series' address: no string compared */
    for (size_t i = s->hash & (sh->cap - 1);; i = (i + 1) & (sh->cap - 1)) {
      if (!sh->slots[i].s) break;
      if (sh->slots[i].s == s) {
        sl = &sh->slots[i];
        break;
      }
    }
  pthread_mutex_lock(&sh->mu);
  if (!sl) sl = slot_insert(sh, s, s->hash);
  if (sl) sl->sum += v;
  pthread_mutex_unlock(&sh->mu);
  return sl ? 0 : -1;
}

int wp_metrics_update(enum wp_metrics_kind kind, enum wp_metrics_op op, const char *name,
                      const char *labels, double v, char *err, size_t errlen) {
  if (!wp_metrics_enabled()) {
    snprintf(err, errlen, "no metrics collector is configured (prometheus is not enabled)");
    return -1;
  }
  struct shard *sh = shard_get();
  if (!sh) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  struct slot *sl = slot_get(sh, name, labels, kind, err, errlen);
  if (!sl) return -1;
  if (kind == WP_METRICS_GAUGE) { /* one atomic per series: no shard */
    _Atomic uint64_t *g = &sl->s->gauge;
    uint64_t old = atomic_load_explicit(g, memory_order_relaxed), nw;
    do {
      double d;
      memcpy(&d, &old, 8);
      d = op == WP_METRICS_SET ? v : d + v;
      memcpy(&nw, &d, 8);
    } while (!atomic_compare_exchange_weak_explicit(g, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
  }
  pthread_mutex_lock(&sh->mu);
  sl->sum += v;
  if (kind == WP_METRICS_HISTOGRAM) {
    sl->count++;
    for (int i = 0; i < NB; i++)
      if (v <= buckets[i]) {
        sl->bk[i]++;
        break;
      }
  }
  pthread_mutex_unlock(&sh->mu);
  return 0;
}

/* ---- the scrape ---- */

void wp_metrics_fmt(char *out, size_t cap, double d) {
  /* the shortest of %.15g, %.16g, %.17g that reads back as d */
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, cap, "%.*g", prec, d);
    if (strtod(out, NULL) == d) return;
  }
}

static int put(struct wp_buf *b, const char *s) { return wp_buf_append(b, s, strlen(s)); }

static int put_num(struct wp_buf *b, double d) {
  char t[40];
  if (isnan(d)) return put(b, "NaN");
  if (isinf(d)) return put(b, d > 0 ? "+Inf" : "-Inf");
  if (d == floor(d) && fabs(d) < 1e15)
    snprintf(t, sizeof t, "%.0f", d);
  else
    wp_metrics_fmt(t, sizeof t, d);
  return put(b, t);
}

/* name{labels[,extra]} value\n */
static int line(struct wp_buf *b, const char *name, const char *suffix, const char *labels,
                const char *extra, double v) {
  int rc = put(b, name) | put(b, suffix);
  if (labels[0] || extra) {
    rc |= put(b, "{") | put(b, labels);
    if (extra) rc |= put(b, labels[0] ? "," : "") | put(b, extra);
    rc |= put(b, "}");
  }
  return rc | put(b, " ") | put_num(b, v) | put(b, "\n");
}

static int fam_cmp(const void *a, const void *b) {
  return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

int wp_metrics_render(struct wp_buf *out) {
  static const char *const kn[] = {"", "counter", "gauge", "histogram"};
  int rc = 0;
  pthread_mutex_lock(&reg_lock);
  size_t nf = 0;
  for (struct family *f = families; f; f = f->next) {
    nf++;
    for (struct wp_metrics_series *s = f->first; s; s = s->next) {
      s->sum = 0;
      s->count = 0;
      memset(s->bk, 0, sizeof s->bk);
    }
  }
  for (struct shard *sh = shards; sh; sh = sh->next) {
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < sh->cap; i++) {
      struct slot *sl = &sh->slots[i];
      if (!sl->s) continue;
      sl->s->sum += sl->sum;
      sl->s->count += sl->count;
      for (int k = 0; k < NB; k++) sl->s->bk[k] += sl->bk[k];
    }
    pthread_mutex_unlock(&sh->mu);
  }
  struct family **fv = nf ? wp_calloc(nf, sizeof *fv) : NULL;
  if (nf && !fv) rc = -1;
  nf = 0;
  for (struct family *f = families; f && fv; f = f->next) fv[nf++] = f;
  if (fv) qsort(fv, nf, sizeof *fv, fam_cmp);
  for (size_t i = 0; i < nf && !rc; i++) {
    struct family *f = fv[i];
    rc |= put(out, "# HELP ") | put(out, f->name) | put(out, " ") |
          put(out, f->help ? f->help : "Application metric.") | put(out, "\n");
    rc |= put(out, "# TYPE ") | put(out, f->name) | put(out, " ") | put(out, kn[f->kind]) |
          put(out, "\n");
    for (struct wp_metrics_series *s = f->first; s && !rc; s = s->next) {
      if (f->kind == WP_METRICS_COUNTER) {
        rc |= line(out, f->name, "", s->labels, NULL, s->sum);
      } else if (f->kind == WP_METRICS_GAUGE) {
        uint64_t bits = atomic_load_explicit(&s->gauge, memory_order_relaxed);
        double d;
        memcpy(&d, &bits, 8);
        rc |= line(out, f->name, "", s->labels, NULL, d);
      } else {
        uint64_t cum = 0;
        char le[48];
        for (int k = 0; k < NB; k++) {
          cum += s->bk[k];
          snprintf(le, sizeof le, "le=\"%g\"", buckets[k]);
          rc |= line(out, f->name, "_bucket", s->labels, le, (double)cum);
        }
        rc |= line(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
        rc |= line(out, f->name, "_sum", s->labels, NULL, s->sum);
        rc |= line(out, f->name, "_count", s->labels, NULL, (double)s->count);
      }
    }
  }
  pthread_mutex_unlock(&reg_lock);
  wp_free(fv);
  return rc ? -1 : 0;
}
