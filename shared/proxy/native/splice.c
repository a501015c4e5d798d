/*
 * pgwarden's native data path: the proxy's byte shuffling on its own epoll threads, with no JavaScript per event.
 *
 * The JavaScript control plane (proxy.ts) keeps every decision that is not per byte: it binds the listeners and
 * hands their descriptors over, publishes the routes (`setRoutes`), closes the clients of a fenced node
 * (`closeNode`), and answers the clients this plane turns away (it gets their descriptors back through `onEvent`,
 * so the PostgreSQL refusal, SSL decline included, lives in one place: wire.ts). What runs here, per thread:
 *   accept → admission (the shared client limit) → route (the primary, or least connections over the replicas)
 *   → non-blocking connect with a deadline → read/write splice both ways, with backpressure and half-close.
 * Counters go straight into the SharedArrayBuffers of counters.ts: open clients with atomics (JavaScript reads them
 * with Atomics), totals and bytes as plain stores into this thread's own slot.
 *
 * Every thread owns its connections; another thread (the JavaScript one) only queues commands to it (an eventfd
 * wakes it), so no lock is taken on the data path but the route table's, once per new client.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 64
#define MAX_THREADS 64
#define SCRATCH_SIZE 65536
#define EVENTS_PER_WAIT 256
#define KEEPALIVE_IDLE_S 30

/* Cancel routing (cancel-keys.ts, backend-key.ts: the same layout, hashes and parse). */
#define CANCEL_REQUEST 80877102
#define CANCEL_HEADER 12
#define MAX_KEY_BYTES 256
#define KEY_TABLE_HEADER 4
#define KEY_FIELDS 4
#define KEY_FREE 0
#define KEY_WRITING 1
#define KEY_USED 2
#define KEY_HASH_SEED 0x811c9dc5u
#define KEY_HASH_PRIME 0x01000193u

/* Listener and refusal indexes: the same order as counters.ts (LISTENERS, REFUSAL_REASONS). */
enum { LISTENER_RW = 0, LISTENER_RO = 1 };
enum {
  REFUSE_TOO_MANY_CLIENTS = 0,
  REFUSE_NO_PRIMARY = 1,
  REFUSE_SPLIT_BRAIN = 2,
  REFUSE_NO_TARGET = 3,
  REFUSE_BACKEND_UNREACHABLE = 4,
  REFUSE_SHUTTING_DOWN = 5,
};
/* counters.ts: per node and thread slot, total rw, total ro, bytes in, bytes out. */
#define NODE_FIELDS 4

enum tag_kind { TAG_END, TAG_LISTENER, TAG_COMMANDS };

struct tag {
  enum tag_kind kind;
};

struct conn;

/* One side of a proxied client: the client's socket (0) or the node's (1). */
struct end {
  struct tag tag;
  int fd;
  struct conn *conn;
  /* Bytes read from the other side that this socket has not taken yet (its send buffer was full). */
  char *pending;
  size_t pending_len;
  size_t pending_off;
  bool eof;      /* read EOF from this side */
  bool shut;     /* shutdown(SHUT_WR) sent to this side */
  bool registered; /* in the thread's epoll set */
  uint32_t events; /* what epoll watches now */
};

/*
 * AWAITING: the client's first packet decides where it goes (a CancelRequest goes to the node that issued its key),
 * so the node is chosen once it is here; a session's packet is only peeked at and stays in the kernel.
 */
enum conn_state { AWAITING, CONNECTING, SPLICING, CLOSED };

/* The server's startup messages up to ReadyForQuery, scanned for BackendKeyData (backend-key.ts does the same). */
enum scan_phase { SCAN_PRE, SCAN_MESSAGES, SCAN_DONE };

struct keyscan {
  uint8_t phase;
  uint8_t header_len;
  bool in_body;
  bool is_key;
  uint8_t header[5];
  uint32_t remaining;
  uint32_t body_off;
  uint32_t pid;
  uint32_t hash;
};

struct conn {
  struct end ends[2];
  enum conn_state state;
  int node;
  int listener;
  int64_t deadline_ms;
  struct conn *prev, *next;       /* the thread's connections */
  struct conn *dl_prev, *dl_next; /* the thread's pending connects, oldest first */
  bool in_deadlines;
  bool cancel;    /* forwards a CancelRequest: on failure closed, never answered */
  bool awaiting_first; /* connected ahead of the first packet: it may still be a cancel for another node */
  bool encrypted; /* the server accepted SSL/GSS: counted in the key table's header until closed */
  int key_entry;  /* this session's entry in the key table, -1 none */
  struct keyscan scan;
  struct conn *grave_next;
};

struct listener_tag {
  struct tag tag;
  int listener;
};

enum command_kind { CMD_CLOSE_NODE, CMD_CLOSE_ALL, CMD_STOP_ACCEPTING, CMD_EXIT };

struct command {
  enum command_kind kind;
  int node;
  int scope; /* -1 all, else a listener */
  struct command *next;
};

struct plane;

struct worker {
  struct plane *plane;
  int slot;
  pthread_t thread;
  bool started;
  int epfd;
  int evfd;
  struct tag commands_tag;
  struct listener_tag listener_tags[2];
  int listen_fds[2]; /* this thread's own listeners (SO_REUSEPORT: the kernel spreads clients over the threads) */
  bool listening;
  pthread_mutex_t lock;
  struct command *commands_head, *commands_tail;
  struct conn *conns;
  struct conn *dl_head, *dl_tail;
  struct conn *graveyard;
  uint32_t open;
  char scratch[SCRATCH_SIZE];
};

struct node_addr {
  struct sockaddr_storage addr;
  socklen_t len;
};

/* Events for the JavaScript thread (through the thread-safe function). */
enum event_kind { EVENT_REFUSE, EVENT_IDLE };

struct event {
  enum event_kind kind;
  int fd;
  int listener;
  int reason;
  int node;
  int error;
};

struct plane {
  int threads;
  struct worker *workers;
  int nodes;
  struct node_addr node_addrs[MAX_NODES];
  int max_clients;
  int connect_timeout_ms;
  bool accepting;
  bool stopped;

  pthread_mutex_t routes_lock;
  int primary; /* -1: none, then rw_refusal */
  int rw_refusal;
  int replicas[MAX_NODES];
  int replica_count;
  uint32_t rr_cursor;

  /* counters.ts buffers: open (Int32: [0] clients, 1 + node * 2 + listener) and slots (Float64). */
  int32_t *open;
  double *slots;
  int stride;
  napi_ref open_ref;
  napi_ref slots_ref;

  /* cancel-keys.ts's table (Int32: [0] encrypted sessions, [1] capacity, then entries of 4 fields). */
  int32_t *keys;
  uint32_t key_capacity;
  napi_ref keys_ref;
  napi_threadsafe_function on_event;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- counters (layout: counters.ts) ---------- */

static void count_opened(struct worker *w, int node, int listener) {
  struct plane *p = w->plane;
  __atomic_add_fetch(&p->open[1 + node * 2 + listener], 1, __ATOMIC_SEQ_CST);
  p->slots[w->slot * p->stride + node * NODE_FIELDS + listener] += 1;
}

/* A client's slot is freed; `node` -1: it never reached one. */
static void count_closed(struct plane *p, int node, int listener) {
  if (node >= 0) __atomic_sub_fetch(&p->open[1 + node * 2 + listener], 1, __ATOMIC_SEQ_CST);
  __atomic_sub_fetch(&p->open[0], 1, __ATOMIC_SEQ_CST);
}

static void count_bytes(struct worker *w, int node, bool to_node, size_t n) {
  struct plane *p = w->plane;
  p->slots[w->slot * p->stride + node * NODE_FIELDS + (to_node ? 2 : 3)] += (double)n;
}

static bool reserve_client(struct plane *p) {
  if (__atomic_fetch_add(&p->open[0], 1, __ATOMIC_SEQ_CST) < p->max_clients) return true;
  __atomic_sub_fetch(&p->open[0], 1, __ATOMIC_SEQ_CST);
  return false;
}

/* ---------- cancel keys (layout and hashes: cancel-keys.ts) ---------- */

static uint32_t be32(const uint8_t *bytes) {
  return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3];
}

static uint32_t key_home(uint32_t pid, uint32_t hash, uint32_t mask) {
  return ((pid * 0x9e3779b1u) ^ hash) & mask;
}

/* Records a key issued by `node`; its entry, or -1 (full: cannot happen while capacity > maxClients). */
static int key_record(struct plane *p, uint32_t pid, uint32_t hash, int node) {
  uint32_t mask = p->key_capacity - 1;
  uint32_t start = key_home(pid, hash, mask);
  for (uint32_t i = 0; i < p->key_capacity; i++) {
    uint32_t entry = (start + i) & mask;
    int32_t *at = &p->keys[KEY_TABLE_HEADER + entry * KEY_FIELDS];
    int32_t expected = KEY_FREE;
    if (!__atomic_compare_exchange_n(&at[0], &expected, KEY_WRITING, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
    __atomic_store_n(&at[1], (int32_t)pid, __ATOMIC_SEQ_CST);
    __atomic_store_n(&at[2], (int32_t)hash, __ATOMIC_SEQ_CST);
    __atomic_store_n(&at[3], node, __ATOMIC_SEQ_CST);
    __atomic_store_n(&at[0], KEY_USED, __ATOMIC_SEQ_CST);
    return (int)entry;
  }
  return -1;
}

static void key_forget(struct plane *p, int entry) {
  if (entry < 0 || (uint32_t)entry >= p->key_capacity) return;
  __atomic_store_n(&p->keys[KEY_TABLE_HEADER + (uint32_t)entry * KEY_FIELDS], KEY_FREE, __ATOMIC_SEQ_CST);
}

/* The node that issued the key, or -1. Scans every entry from the key's home (a freed entry leaves no mark). */
static int key_lookup(struct plane *p, uint32_t pid, uint32_t hash) {
  uint32_t mask = p->key_capacity - 1;
  uint32_t start = key_home(pid, hash, mask);
  for (uint32_t i = 0; i < p->key_capacity; i++) {
    int32_t *at = &p->keys[KEY_TABLE_HEADER + ((start + i) & mask) * KEY_FIELDS];
    if (__atomic_load_n(&at[0], __ATOMIC_SEQ_CST) != KEY_USED) continue;
    if (__atomic_load_n(&at[1], __ATOMIC_SEQ_CST) != (int32_t)pid || __atomic_load_n(&at[2], __ATOMIC_SEQ_CST) != (int32_t)hash) continue;
    return __atomic_load_n(&at[3], __ATOMIC_SEQ_CST);
  }
  return -1;
}

/* A message header is complete: false when the scan ends (ReadyForQuery, or a length that is no message). */
static bool scan_header(struct keyscan *k) {
  k->header_len = 0;
  uint32_t length = be32(&k->header[1]);
  if (length < 4 || length > INT32_MAX || k->header[0] == 'Z') return false;
  k->remaining = length - 4;
  k->is_key = k->header[0] == 'K' && k->remaining >= 8 && k->remaining <= 4 + MAX_KEY_BYTES;
  k->body_off = 0;
  k->pid = 0;
  k->hash = KEY_HASH_SEED;
  k->in_body = k->remaining > 0;
  return true;
}

/*
 * Scans bytes from the server (backend-key.ts's scanner, in C): records BackendKeyData for this connection's node,
 * counts an accepted SSL/GSS request, and ends at ReadyForQuery (the splice then never calls it again).
 */
static void scan_server(struct plane *p, struct conn *c, const uint8_t *bytes, size_t length) {
  struct keyscan *k = &c->scan;
  size_t at = 0;
  while (at < length) {
    if (k->phase == SCAN_PRE && k->header_len == 0) {
      uint8_t byte = bytes[at];
      if (byte == 'N') { /* SSL/GSS declined: the session goes on in clear text */
        at++;
        continue;
      }
      if (byte == 'S' || byte == 'G') {
        c->encrypted = true;
        __atomic_add_fetch(&p->keys[0], 1, __ATOMIC_SEQ_CST);
        k->phase = SCAN_DONE;
        return;
      }
      if (byte != 'R' && byte != 'E' && byte != 'v') {
        k->phase = SCAN_DONE;
        return;
      }
      k->phase = SCAN_MESSAGES;
    }
    if (!k->in_body) {
      k->header[k->header_len++] = bytes[at++];
      if (k->header_len == 5 && !scan_header(k)) {
        k->phase = SCAN_DONE;
        return;
      }
      continue;
    }
    size_t take = length - at < k->remaining ? length - at : k->remaining;
    if (k->is_key) {
      for (size_t i = at; i < at + take; i++, k->body_off++) {
        if (k->body_off < 4) k->pid = k->pid << 8 | bytes[i];
        else k->hash = (k->hash ^ bytes[i]) * KEY_HASH_PRIME;
      }
    }
    at += take;
    k->remaining -= (uint32_t)take;
    if (k->remaining == 0) {
      k->in_body = false;
      if (k->is_key && c->key_entry < 0) c->key_entry = key_record(p, k->pid, k->hash, c->node);
    }
  }
}

/* ---------- events to JavaScript ---------- */

static void emit(struct plane *p, struct event event) {
  struct event *copy = malloc(sizeof *copy);
  if (copy == NULL) {
    if (event.fd >= 0) close(event.fd);
    return;
  }
  *copy = event;
  if (napi_call_threadsafe_function(p->on_event, copy, napi_tsfn_nonblocking) != napi_ok) {
    if (event.fd >= 0) close(event.fd);
    free(copy);
  }
}

/* Hands a client to JavaScript, which answers it with the reason's PostgreSQL error and closes it. */
static void refuse(struct worker *w, int fd, int listener, int reason, int node, int error) {
  emit(w->plane, (struct event){.kind = EVENT_REFUSE, .fd = fd, .listener = listener, .reason = reason, .node = node, .error = error});
}

/* ---------- epoll helpers ---------- */

/*
 * Sets what epoll reports for a socket. Nothing wanted takes it out of the set altogether: epoll reports a hang-up
 * whatever was asked, and a socket paused for backpressure or done reading must not wake the thread (level-
 * triggered, it would wake it in a loop) before its turn comes.
 */
static void watch(struct worker *w, struct end *e, uint32_t events) {
  if (events == 0) {
    if (e->registered) epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->fd, NULL);
    e->registered = false;
    e->events = 0;
    return;
  }
  if (e->registered && e->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = e};
  epoll_ctl(w->epfd, e->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd, &ev);
  e->registered = true;
  e->events = events;
}

static void tune_socket(int fd) {
  int on = 1;
  int idle = KEEPALIVE_IDLE_S;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
}

/* ---------- connections ---------- */

static void deadline_remove(struct worker *w, struct conn *c) {
  if (!c->in_deadlines) return;
  if (c->dl_prev) c->dl_prev->dl_next = c->dl_next;
  else w->dl_head = c->dl_next;
  if (c->dl_next) c->dl_next->dl_prev = c->dl_prev;
  else w->dl_tail = c->dl_prev;
  c->dl_prev = c->dl_next = NULL;
  c->in_deadlines = false;
}

static void deadline_add(struct worker *w, struct conn *c) {
  c->deadline_ms = now_ms() + w->plane->connect_timeout_ms;
  c->dl_prev = w->dl_tail;
  c->dl_next = NULL;
  if (w->dl_tail) w->dl_tail->dl_next = c;
  else w->dl_head = c;
  w->dl_tail = c;
  c->in_deadlines = true;
}

/* Unlinks a connection and frees its slot; the memory waits for the end of the event batch (events may still name it). */
static void conn_release(struct worker *w, struct conn *c) {
  deadline_remove(w, c);
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->state = CLOSED;
  c->grave_next = w->graveyard;
  w->graveyard = c;
  /* The key goes with the session that owns it (not with the routes: after a failover the old primary still takes it). */
  key_forget(w->plane, c->key_entry);
  c->key_entry = -1;
  if (c->encrypted) __atomic_sub_fetch(&w->plane->keys[0], 1, __ATOMIC_SEQ_CST);
  c->encrypted = false;
  count_closed(w->plane, c->node, c->listener);
  w->open--;
  /* Only a draining proxy waits for its last client; a busy one must not wake JavaScript for it. */
  if (w->open == 0 && !__atomic_load_n(&w->plane->accepting, __ATOMIC_SEQ_CST)) emit(w->plane, (struct event){.kind = EVENT_IDLE, .fd = -1});
}

static void end_close(struct worker *w, struct end *e) {
  /* A cancel's packet may wait here before its node's socket exists. */
  free(e->pending);
  e->pending = NULL;
  if (e->fd < 0) return;
  watch(w, e, 0);
  close(e->fd);
  e->fd = -1;
}

/* Closes both sockets of a connection (a FIN to each, as `destroy()` in net does). */
static void conn_close(struct worker *w, struct conn *c) {
  if (c->state == CLOSED) return;
  end_close(w, &c->ends[0]);
  end_close(w, &c->ends[1]);
  conn_release(w, c);
}

/*
 * The node did not take the connection: the client goes back to JavaScript to be told so. A cancel is closed
 * unanswered (as PostgreSQL answers none), and a client that never sent its first packet in time is closed.
 */
static void conn_fail(struct worker *w, struct conn *c, int error) {
  if (c->cancel || c->state == AWAITING) {
    conn_close(w, c);
    return;
  }
  struct end *client = &c->ends[0];
  int fd = client->fd;
  watch(w, client, 0);
  client->fd = -1;
  end_close(w, &c->ends[1]);
  int node = c->node, listener = c->listener;
  conn_release(w, c);
  refuse(w, fd, listener, REFUSE_BACKEND_UNREACHABLE, node, error);
}

static void graveyard_free(struct worker *w) {
  while (w->graveyard) {
    struct conn *c = w->graveyard;
    w->graveyard = c->grave_next;
    free(c);
  }
}

/* Reading `from` stays on unless the other side has bytes pending or `from` said EOF. */
static uint32_t read_events(struct conn *c, int side) {
  struct end *from = &c->ends[side];
  struct end *to = &c->ends[1 - side];
  /* The first packet is only peeked at (first_packet_late), edge-triggered: not read before it is known. */
  if (side == 0 && c->awaiting_first) return EPOLLIN | EPOLLRDHUP | EPOLLET;
  uint32_t events = 0;
  if (!from->eof && to->pending == NULL) events |= EPOLLIN;
  if (from->pending != NULL) events |= EPOLLOUT;
  return events;
}

static void rewatch(struct worker *w, struct conn *c) {
  watch(w, &c->ends[0], read_events(c, 0));
  watch(w, &c->ends[1], read_events(c, 1));
}

/* After EOF from `side` and every byte of it delivered: pass the FIN on; both ways done closes the connection. */
static bool finish_half(struct worker *w, struct conn *c, int side) {
  struct end *from = &c->ends[side];
  struct end *to = &c->ends[1 - side];
  if (!from->eof || to->pending != NULL) return false;
  if (!to->shut) {
    shutdown(to->fd, SHUT_WR);
    to->shut = true;
  }
  if (c->ends[0].eof && c->ends[1].eof) {
    conn_close(w, c);
    return true;
  }
  return false;
}

/* Writes what `to` has pending; false when the connection closed. */
static bool flush_pending(struct worker *w, struct conn *c, int to_side) {
  struct end *to = &c->ends[to_side];
  while (to->pending_off < to->pending_len) {
    ssize_t n = send(to->fd, to->pending + to->pending_off, to->pending_len - to->pending_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      conn_close(w, c);
      return false;
    }
    to->pending_off += (size_t)n;
  }
  free(to->pending);
  to->pending = NULL;
  to->pending_len = to->pending_off = 0;
  if (finish_half(w, c, 1 - to_side)) return false;
  rewatch(w, c);
  return true;
}

/* Moves what `side` has to the other side; false when the connection closed. */
static bool pump(struct worker *w, struct conn *c, int side) {
  struct end *from = &c->ends[side];
  struct end *to = &c->ends[1 - side];
  ssize_t n = recv(from->fd, w->scratch, SCRATCH_SIZE, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    conn_close(w, c);
    return false;
  }
  if (n == 0) {
    from->eof = true;
    if (finish_half(w, c, side)) return false;
    rewatch(w, c);
    return true;
  }
  count_bytes(w, c->node, side == 0, (size_t)n);
  /* Until ReadyForQuery only: one test per read afterwards. Before the client sees the key, the table has it. */
  if (side == 1 && c->scan.phase != SCAN_DONE) scan_server(w->plane, c, (const uint8_t *)w->scratch, (size_t)n);
  size_t off = 0;
  while (off < (size_t)n) {
    ssize_t m = send(to->fd, w->scratch + off, (size_t)n - off, MSG_NOSIGNAL);
    if (m < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_close(w, c);
      return false;
    }
    off += (size_t)m;
  }
  if (off < (size_t)n) {
    /* The other side is full: keep the rest and stop reading this side until it drains. */
    to->pending_len = (size_t)n - off;
    to->pending_off = 0;
    to->pending = malloc(to->pending_len);
    if (to->pending == NULL) {
      conn_close(w, c);
      return false;
    }
    memcpy(to->pending, w->scratch + off, to->pending_len);
    rewatch(w, c);
  }
  return true;
}

static void on_connected(struct worker *w, struct conn *c) {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(c->ends[1].fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
  if (error != 0) {
    conn_fail(w, c, error);
    return;
  }
  deadline_remove(w, c);
  c->state = SPLICING;
  rewatch(w, c);
}

static bool first_packet(struct worker *w, struct conn *c, bool ended);
static void first_packet_late(struct worker *w, struct conn *c, bool ended);

static void on_end_event(struct worker *w, struct end *e, uint32_t events) {
  struct conn *c = e->conn;
  if (c->state == CLOSED || e->fd < 0) return;
  int side = e == &c->ends[0] ? 0 : 1;
  if (c->state == AWAITING) {
    if (side == 0) first_packet(w, c, (events & (EPOLLRDHUP | EPOLLHUP)) != 0);
    return;
  }
  if (side == 0 && c->awaiting_first) {
    first_packet_late(w, c, (events & (EPOLLRDHUP | EPOLLHUP)) != 0);
    return;
  }
  if (c->state == CONNECTING) {
    if (side == 1) on_connected(w, c);
    return;
  }
  if (events & EPOLLERR) {
    conn_close(w, c);
    return;
  }
  if ((events & EPOLLOUT) && e->pending != NULL) {
    if (!flush_pending(w, c, side)) return;
  }
  if (events & (EPOLLIN | EPOLLHUP)) {
    if (e->events & EPOLLIN) {
      if (!pump(w, c, side)) return;
    } else if (events & EPOLLHUP) {
      /* Hung up while only writing to it (this side said EOF): the bytes pending for it can go nowhere. */
      conn_close(w, c);
    }
  }
}

/* ---------- admission and routing ---------- */

/* The node for a new client, or -1 with `*reason` set. */
static int route(struct plane *p, int listener, int *reason) {
  pthread_mutex_lock(&p->routes_lock);
  int node = -1;
  if (listener == LISTENER_RW) {
    node = p->primary;
    if (node < 0) *reason = p->rw_refusal;
  } else {
    /* Least connections; among equals the first at or after the round-robin cursor (data-plane.ts does the same). */
    int count = p->replica_count;
    if (count > 0) {
      uint32_t cursor = p->rr_cursor++;
      int32_t best_active = INT32_MAX;
      for (int i = 0; i < count; i++) {
        int candidate = p->replicas[(cursor + (uint32_t)i) % (uint32_t)count];
        int32_t active = __atomic_load_n(&p->open[1 + candidate * 2], __ATOMIC_RELAXED) +
                         __atomic_load_n(&p->open[2 + candidate * 2], __ATOMIC_RELAXED);
        if (active < best_active) {
          best_active = active;
          node = candidate;
        }
      }
    } else {
      node = p->primary;
      if (node < 0) *reason = REFUSE_NO_TARGET;
    }
  }
  pthread_mutex_unlock(&p->routes_lock);
  return node;
}

/* Connects a client to `node` (chosen for its first packet) and splices once the node answers. */
static void conn_connect(struct worker *w, struct conn *c, int node) {
  struct plane *p = w->plane;
  /*
   * Until the node answers, the client is not watched: its bytes wait in the kernel, and so does its FIN (a client
   * may end its side right after its first request: the answer must still reach it), or its reset, which the
   * splice then meets.
   */
  watch(w, &c->ends[0], c->awaiting_first ? EPOLLIN | EPOLLRDHUP | EPOLLET : 0);
  deadline_remove(w, c);
  c->node = node;
  c->state = CONNECTING;
  count_opened(w, node, c->listener);
  struct node_addr *target = &p->node_addrs[node];
  int server = socket(target->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server < 0) return conn_fail(w, c, errno);
  tune_socket(server);
  c->ends[1].fd = server;
  if (connect(server, (struct sockaddr *)&target->addr, target->len) == 0) {
    c->state = SPLICING;
    rewatch(w, c);
    return;
  }
  if (errno != EINPROGRESS) return conn_fail(w, c, errno);
  watch(w, &c->ends[1], EPOLLOUT);
  deadline_add(w, c);
}

/* Hands a client that reached no node back to JavaScript to be answered (nothing of it was read). */
static void conn_refuse(struct worker *w, struct conn *c, int reason) {
  int fd = c->ends[0].fd;
  watch(w, &c->ends[0], 0);
  c->ends[0].fd = -1;
  int listener = c->listener;
  conn_release(w, c);
  refuse(w, fd, listener, reason, -1, 0);
}

static uint32_t cancel_hash(const uint8_t *packet, uint32_t size) {
  uint32_t hash = KEY_HASH_SEED;
  for (uint32_t i = CANCEL_HEADER; i < size; i++) hash = (hash ^ packet[i]) * KEY_HASH_PRIME;
  return hash;
}

/*
 * A CancelRequest (all `size` bytes are in the kernel): taken off the socket, queued for the node that issued its
 * key, or dropped when no node did (as PostgreSQL drops an unknown key: no answer, the connection closed). While
 * encrypted sessions are open their keys are unknown, so an unknown key then takes the listener's route, as every
 * cancel did before keys were learned (backend-key.ts).
 */
static void route_cancel(struct worker *w, struct conn *c, uint32_t size) {
  struct plane *p = w->plane;
  struct end *server = &c->ends[1];
  c->cancel = true;
  server->pending = malloc(size);
  if (server->pending == NULL) return conn_close(w, c);
  ssize_t n = recv(c->ends[0].fd, server->pending, size, 0);
  if (n != (ssize_t)size) return conn_close(w, c);
  server->pending_len = size;
  server->pending_off = 0;
  const uint8_t *packet = (const uint8_t *)server->pending;
  int node = key_lookup(p, be32(&packet[8]), cancel_hash(packet, size));
  int reason = REFUSE_NO_TARGET;
  if (node < 0 && __atomic_load_n(&p->keys[0], __ATOMIC_SEQ_CST) > 0) node = route(p, c->listener, &reason);
  if (node < 0) return conn_close(w, c);
  c->scan.phase = SCAN_DONE; /* a cancel's node answers nothing but its close */
  conn_connect(w, c, node);
}

/*
 * Looks at the client's first packet without taking it: a session is routed by its listener (its packet stays
 * for the splice), a CancelRequest by its key. True when it has to wait for more bytes (edge-triggered, so a
 * partial packet does not wake the thread again until more arrives; the connect deadline bounds the wait). A
 * client that `ended` its side before a whole first packet is no cancel: its bytes and FIN go to a node as a
 * session's.
 */
static bool first_packet(struct worker *w, struct conn *c, bool ended) {
  uint8_t head[CANCEL_HEADER + MAX_KEY_BYTES];
  ssize_t n = recv(c->ends[0].fd, head, sizeof head, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) {
    conn_close(w, c); /* left (or failed) before a word */
    return false;
  }
  if (n < 8 && !ended) return true;
  uint32_t size = n < 8 ? 0 : be32(head);
  bool cancel = n >= 8 && be32(&head[4]) == CANCEL_REQUEST && size >= CANCEL_HEADER + 4 && size <= CANCEL_HEADER + MAX_KEY_BYTES;
  if (cancel && (size_t)n < size && !ended) return true;
  if (cancel && (size_t)n >= size) {
    route_cancel(w, c, size);
    return false;
  }
  int reason = REFUSE_NO_PRIMARY;
  int node = route(w->plane, c->listener, &reason);
  if (node < 0) conn_refuse(w, c, reason);
  else conn_connect(w, c, node);
  return false;
}

/*
 * The first packet of a client connected ahead of it (on_client): a session's stays for the splice; a cancel whose
 * key another node issued has its speculative connection undone (a node that gets a connection with no byte logs
 * nothing) and goes to that node. Waits, edge-triggered, while it is incomplete.
 */
static void first_packet_late(struct worker *w, struct conn *c, bool ended) {
  struct plane *p = w->plane;
  uint8_t head[CANCEL_HEADER + MAX_KEY_BYTES];
  ssize_t n = recv(c->ends[0].fd, head, sizeof head, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    conn_close(w, c);
    return;
  }
  if (n < 8 && !ended) return;
  uint32_t size = n < 8 ? 0 : be32(head);
  bool cancel = n >= 8 && be32(&head[4]) == CANCEL_REQUEST && size >= CANCEL_HEADER + 4 && size <= CANCEL_HEADER + MAX_KEY_BYTES;
  if (cancel && (size_t)n < size && !ended) return;
  c->awaiting_first = false;
  if (cancel && (size_t)n >= size) {
    c->cancel = true;
    c->scan.phase = SCAN_DONE;
    if (key_lookup(p, be32(&head[8]), cancel_hash(head, size)) != c->node) {
      /* Not the node it went to: that connection never happened, for the counters too. */
      end_close(w, &c->ends[1]);
      deadline_remove(w, c);
      __atomic_sub_fetch(&p->open[1 + c->node * 2 + c->listener], 1, __ATOMIC_SEQ_CST);
      p->slots[w->slot * p->stride + c->node * NODE_FIELDS + c->listener] -= 1;
      c->node = -1;
      c->state = AWAITING;
      route_cancel(w, c, size);
      return;
    }
  }
  if (c->state != SPLICING) {
    watch(w, &c->ends[0], 0); /* the node has not answered yet: on_connected watches the client */
    return;
  }
  rewatch(w, c);
  /* The packet is here: move it now rather than after one more wake-up. */
  if (c->ends[0].events & EPOLLIN) pump(w, c, 0);
}

static void on_client(struct worker *w, int fd, int listener) {
  struct plane *p = w->plane;
  tune_socket(fd);
  if (!__atomic_load_n(&p->accepting, __ATOMIC_SEQ_CST)) return refuse(w, fd, listener, REFUSE_SHUTTING_DOWN, -1, 0);
  if (!reserve_client(p)) return refuse(w, fd, listener, REFUSE_TOO_MANY_CLIENTS, -1, 0);
  struct conn *c = calloc(1, sizeof *c);
  if (c == NULL) {
    __atomic_sub_fetch(&p->open[0], 1, __ATOMIC_SEQ_CST);
    return refuse(w, fd, listener, REFUSE_BACKEND_UNREACHABLE, -1, ENOMEM);
  }
  c->node = -1;
  c->listener = listener;
  c->state = AWAITING;
  c->key_entry = -1;
  c->scan.phase = SCAN_PRE;
  for (int side = 0; side < 2; side++) {
    c->ends[side].tag.kind = TAG_END;
    c->ends[side].conn = c;
    c->ends[side].fd = -1;
  }
  c->ends[0].fd = fd;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  w->open++;
  /* Most clients' first packet is already here: routed at once, without waking the thread again for it. */
  if (!first_packet(w, c, false)) return;
  /*
   * Not yet: connect by the listener's rule meanwhile, as before cancels were routed, so the node's connect and
   * the client's packet overlap (a new connection per transaction would otherwise wait for both in turn). Only a
   * cancel for another node undoes it. With no route for the listener, wait: a cancel may still have a node.
   */
  int reason = REFUSE_NO_PRIMARY;
  int node = route(p, listener, &reason);
  if (node >= 0) {
    c->awaiting_first = true;
    conn_connect(w, c, node);
    return;
  }
  watch(w, &c->ends[0], EPOLLIN | EPOLLRDHUP | EPOLLET);
  deadline_add(w, c);
}

static void on_listener(struct worker *w, int listener) {
  /* Level-triggered: take a few, then serve the clients already here. */
  for (int i = 0; i < 16; i++) {
    int fd = accept4(w->listen_fds[listener], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    on_client(w, fd, listener);
  }
}

static void expire_deadlines(struct worker *w) {
  int64_t now = now_ms();
  while (w->dl_head && w->dl_head->deadline_ms <= now) conn_fail(w, w->dl_head, ETIMEDOUT);
}

/* ---------- commands from the JavaScript thread ---------- */

static void push_command(struct worker *w, struct command command) {
  struct command *copy = malloc(sizeof *copy);
  if (copy == NULL) return;
  *copy = command;
  copy->next = NULL;
  pthread_mutex_lock(&w->lock);
  if (w->commands_tail) w->commands_tail->next = copy;
  else w->commands_head = copy;
  w->commands_tail = copy;
  pthread_mutex_unlock(&w->lock);
  uint64_t one = 1;
  ssize_t ignored = write(w->evfd, &one, sizeof one);
  (void)ignored;
}

/* Queues a command to every running thread. */
static void broadcast(struct plane *p, struct command command) {
  for (int i = 0; i < p->threads; i++) {
    if (p->workers[i].started) push_command(&p->workers[i], command);
  }
}

static void stop_listening(struct worker *w) {
  if (!w->listening) return;
  w->listening = false;
  for (int l = 0; l < 2; l++) {
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fds[l], NULL);
    close(w->listen_fds[l]);
    w->listen_fds[l] = -1;
  }
}

/* Runs the queued commands; false when told to exit. */
static bool run_commands(struct worker *w) {
  uint64_t count;
  ssize_t ignored = read(w->evfd, &count, sizeof count);
  (void)ignored;
  pthread_mutex_lock(&w->lock);
  struct command *list = w->commands_head;
  w->commands_head = w->commands_tail = NULL;
  pthread_mutex_unlock(&w->lock);
  bool go_on = true;
  while (list) {
    struct command *command = list;
    list = list->next;
    switch (command->kind) {
      case CMD_CLOSE_NODE:
      case CMD_CLOSE_ALL:
        for (struct conn *c = w->conns, *next; c; c = next) {
          next = c->next;
          if (command->kind == CMD_CLOSE_ALL || (c->node == command->node && (command->scope < 0 || command->scope == c->listener))) {
            conn_close(w, c);
          }
        }
        break;
      case CMD_STOP_ACCEPTING:
        stop_listening(w);
        break;
      case CMD_EXIT:
        go_on = false;
        break;
    }
    free(command);
  }
  return go_on;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct epoll_event events[EVENTS_PER_WAIT];
  for (;;) {
    int timeout = -1;
    if (w->dl_head) {
      int64_t wait = w->dl_head->deadline_ms - now_ms();
      timeout = wait < 0 ? 0 : (int)wait;
    }
    int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, timeout);
    if (n < 0 && errno != EINTR) break;
    bool go_on = true;
    for (int i = 0; i < n; i++) {
      struct tag *tag = events[i].data.ptr;
      if (tag->kind == TAG_END) on_end_event(w, (struct end *)tag, events[i].events);
      else if (tag->kind == TAG_LISTENER) on_listener(w, ((struct listener_tag *)tag)->listener);
      else go_on = run_commands(w) && go_on;
    }
    if (w->dl_head) expire_deadlines(w);
    graveyard_free(w);
    if (!go_on) break;
  }
  /* Exit: every client closes (the control plane closed them already on a clean stop). */
  for (struct conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    conn_close(w, c);
  }
  stop_listening(w);
  graveyard_free(w);
  return NULL;
}

/* ---------- the JavaScript API ---------- */

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, NULL, "pgwarden native splice: " #call " failed"); \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static const char *REASON_NAMES[] = {"too_many_clients", "no_primary", "split_brain", "no_target", "backend_unreachable", "shutting_down"};

static int reason_index(const char *name) {
  for (size_t i = 0; i < sizeof REASON_NAMES / sizeof REASON_NAMES[0]; i++) {
    if (strcmp(name, REASON_NAMES[i]) == 0) return (int)i;
  }
  return REFUSE_NO_PRIMARY;
}

static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  struct event *event = data;
  if (env != NULL && callback != NULL) {
    napi_value object, value, undefined;
    napi_create_object(env, &object);
    napi_create_string_utf8(env, event->kind == EVENT_REFUSE ? "refuse" : "idle", NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, object, "type", value);
    if (event->kind == EVENT_REFUSE) {
      napi_create_int32(env, event->fd, &value);
      napi_set_named_property(env, object, "fd", value);
      napi_create_string_utf8(env, event->listener == LISTENER_RW ? "rw" : "ro", NAPI_AUTO_LENGTH, &value);
      napi_set_named_property(env, object, "listener", value);
      napi_create_string_utf8(env, REASON_NAMES[event->reason], NAPI_AUTO_LENGTH, &value);
      napi_set_named_property(env, object, "reason", value);
      napi_create_int32(env, event->node, &value);
      napi_set_named_property(env, object, "node", value);
      napi_create_int32(env, event->error, &value);
      napi_set_named_property(env, object, "errno", value);
    }
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 1, &object, NULL);
  } else if (event->fd >= 0) {
    close(event->fd); /* JavaScript is gone: nobody can answer this client */
  }
  free(event);
}

static int32_t get_int(napi_env env, napi_value object, const char *name, int32_t fallback) {
  napi_value value;
  int32_t out = fallback;
  bool has = false;
  if (napi_has_named_property(env, object, name, &has) != napi_ok || !has) return fallback;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return fallback;
  if (napi_get_value_int32(env, value, &out) != napi_ok) return fallback;
  return out;
}

/* The memory under a typed array (kept alive by `ref`); `*count` its elements. */
static void *typed_array_data(napi_env env, napi_value array, napi_ref *ref, size_t *count) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data = NULL;
  napi_value buffer;
  if (napi_get_typedarray_info(env, array, &type, &length, &data, &buffer, &offset) != napi_ok) return NULL;
  napi_create_reference(env, array, 1, ref);
  if (count != NULL) *count = length;
  return data;
}

/* Ends the threads (their clients close) and waits for them; once. */
static void stop_threads(struct plane *p) {
  if (p->stopped) return;
  p->stopped = true;
  __atomic_store_n(&p->accepting, false, __ATOMIC_SEQ_CST);
  broadcast(p, (struct command){.kind = CMD_EXIT});
  for (int i = 0; i < p->threads; i++) {
    if (p->workers[i].started) pthread_join(p->workers[i].thread, NULL);
    p->workers[i].started = false;
  }
}

/*
 * The environment is going away (the process exits, or its worker thread ends) without stop(): the threads must
 * end before the counters' memory, which belongs to JavaScript, is freed.
 */
static void plane_cleanup(void *data) {
  stop_threads(data);
}

static void plane_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  struct plane *p = data;
  napi_remove_env_cleanup_hook(env, plane_cleanup, p);
  stop_threads(p); /* collected without stop() */
  for (int i = 0; i < p->threads; i++) {
    struct worker *w = &p->workers[i];
    if (w->epfd >= 0) close(w->epfd);
    if (w->evfd >= 0) close(w->evfd);
    pthread_mutex_destroy(&w->lock);
  }
  if (p->open_ref) napi_delete_reference(env, p->open_ref);
  if (p->slots_ref) napi_delete_reference(env, p->slots_ref);
  if (p->keys_ref) napi_delete_reference(env, p->keys_ref);
  pthread_mutex_destroy(&p->routes_lock);
  free(p->workers);
  free(p);
}

static struct plane *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  struct plane *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, (void **)&p) != napi_ok) return NULL;
  return p;
}

/*
 * new Plane({ threads, nodes: [{ host, port }], maxClients, connectTimeout, open: Int32Array, slots: Float64Array,
 * stride, keys: Int32Array }, onEvent)
 */
static napi_value plane_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "Plane(options, onEvent)");
    return NULL;
  }
  napi_value options = argv[0];
  struct plane *p = calloc(1, sizeof *p);
  if (p == NULL) {
    napi_throw_error(env, NULL, "pgwarden native splice: out of memory");
    return NULL;
  }
  p->threads = get_int(env, options, "threads", 1);
  if (p->threads < 1 || p->threads > MAX_THREADS) p->threads = 1;
  p->max_clients = get_int(env, options, "maxClients", 1000);
  p->connect_timeout_ms = get_int(env, options, "connectTimeout", 5000);
  p->stride = get_int(env, options, "stride", 0);
  p->primary = -1;
  p->rw_refusal = REFUSE_NO_PRIMARY;
  p->accepting = true;
  pthread_mutex_init(&p->routes_lock, NULL);

  napi_value nodes, value;
  uint32_t count = 0;
  napi_get_named_property(env, options, "nodes", &nodes);
  napi_get_array_length(env, nodes, &count);
  if (count > MAX_NODES) count = MAX_NODES;
  p->nodes = (int)count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value node, host;
    char text[64] = {0};
    size_t length = 0;
    napi_get_element(env, nodes, i, &node);
    napi_get_named_property(env, node, "host", &host);
    napi_get_value_string_utf8(env, host, text, sizeof text, &length);
    int port = get_int(env, node, "port", 5432);
    struct node_addr *target = &p->node_addrs[i];
    struct sockaddr_in *v4 = (struct sockaddr_in *)&target->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&target->addr;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)port);
      target->len = sizeof *v4;
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons((uint16_t)port);
      target->len = sizeof *v6;
    } else {
      free(p);
      napi_throw_type_error(env, NULL, "pgwarden native splice: node hosts must be IP addresses");
      return NULL;
    }
  }
  napi_get_named_property(env, options, "open", &value);
  p->open = typed_array_data(env, value, &p->open_ref, NULL);
  napi_get_named_property(env, options, "slots", &value);
  p->slots = typed_array_data(env, value, &p->slots_ref, NULL);
  size_t key_fields = 0;
  napi_get_named_property(env, options, "keys", &value);
  p->keys = typed_array_data(env, value, &p->keys_ref, &key_fields);
  if (p->keys != NULL && key_fields >= KEY_TABLE_HEADER) p->key_capacity = (uint32_t)p->keys[1];
  bool keys_ok = p->keys != NULL && p->key_capacity > 0 && (p->key_capacity & (p->key_capacity - 1)) == 0 &&
                 key_fields >= KEY_TABLE_HEADER + (size_t)p->key_capacity * KEY_FIELDS;
  if (p->open == NULL || p->slots == NULL || !keys_ok) {
    free(p);
    napi_throw_type_error(env, NULL, "pgwarden native splice: open, slots and keys must be typed arrays (keys: cancel-keys.ts's table)");
    return NULL;
  }

  napi_value name;
  napi_create_string_utf8(env, "pgwarden-splice", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &p->on_event));
  /* Events must not keep the process alive: the listeners' owner (the proxy) decides when it ends. */
  napi_unref_threadsafe_function(env, p->on_event);

  p->workers = calloc((size_t)p->threads, sizeof *p->workers);
  for (int i = 0; i < p->threads; i++) {
    struct worker *w = &p->workers[i];
    w->plane = p;
    w->slot = i;
    w->commands_tag.kind = TAG_COMMANDS;
    pthread_mutex_init(&w->lock, NULL);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->commands_tag};
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
  }
  CHECK(napi_wrap(env, self, p, plane_finalize, NULL, NULL));
  napi_add_env_cleanup_hook(env, plane_cleanup, p);
  return self;
}

/* setRoutes(primary: number (-1 none), rwRefusal: string, replicas: number[]) */
static napi_value plane_set_routes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct plane *p = unwrap(env, info, &argc, argv);
  if (p == NULL || argc < 3) return NULL;
  int32_t primary = -1;
  char refusal[32] = {0};
  size_t length;
  uint32_t count = 0;
  napi_get_value_int32(env, argv[0], &primary);
  napi_get_value_string_utf8(env, argv[1], refusal, sizeof refusal, &length);
  napi_get_array_length(env, argv[2], &count);
  int replicas[MAX_NODES];
  int n = 0;
  for (uint32_t i = 0; i < count && n < MAX_NODES; i++) {
    napi_value element;
    int32_t index;
    napi_get_element(env, argv[2], i, &element);
    if (napi_get_value_int32(env, element, &index) == napi_ok && index >= 0 && index < p->nodes) replicas[n++] = index;
  }
  pthread_mutex_lock(&p->routes_lock);
  p->primary = primary >= 0 && primary < p->nodes ? primary : -1;
  p->rw_refusal = reason_index(refusal);
  memcpy(p->replicas, replicas, sizeof(int) * (size_t)n);
  p->replica_count = n;
  pthread_mutex_unlock(&p->routes_lock);
  return NULL;
}

/*
 * start(listeners: [rwFd, roFd][]): thread i takes over the listening sockets listeners[i] (dup'd: the caller
 * closes its own).
 */
static napi_value plane_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct plane *p = unwrap(env, info, &argc, argv);
  if (p == NULL || argc < 1) return NULL;
  uint32_t count = 0;
  napi_get_array_length(env, argv[0], &count);
  if ((int)count != p->threads) {
    napi_throw_range_error(env, NULL, "pgwarden native splice: one pair of listeners per thread");
    return NULL;
  }
  for (int i = 0; i < p->threads; i++) {
    struct worker *w = &p->workers[i];
    napi_value pair;
    napi_get_element(env, argv[0], (uint32_t)i, &pair);
    for (int l = 0; l < 2; l++) {
      napi_value element;
      int32_t fd = -1;
      napi_get_element(env, pair, (uint32_t)l, &element);
      napi_get_value_int32(env, element, &fd);
      w->listen_fds[l] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (w->listen_fds[l] < 0) {
        napi_throw_error(env, NULL, "pgwarden native splice: cannot take over a listener");
        return NULL;
      }
      int flags = fcntl(w->listen_fds[l], F_GETFL);
      fcntl(w->listen_fds[l], F_SETFL, flags | O_NONBLOCK);
    }
  }
  for (int i = 0; i < p->threads; i++) {
    struct worker *w = &p->workers[i];
    for (int l = 0; l < 2; l++) {
      w->listener_tags[l].tag.kind = TAG_LISTENER;
      w->listener_tags[l].listener = l;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->listener_tags[l]};
      epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fds[l], &ev);
    }
    w->listening = true;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      napi_throw_error(env, NULL, "pgwarden native splice: cannot start a data-plane thread");
      return NULL;
    }
    w->started = true;
  }
  return NULL;
}

static napi_value plane_stop_accepting(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  struct plane *p = unwrap(env, info, &argc, NULL);
  if (p == NULL) return NULL;
  __atomic_store_n(&p->accepting, false, __ATOMIC_SEQ_CST);
  broadcast(p, (struct command){.kind = CMD_STOP_ACCEPTING});
  return NULL;
}

/* closeNode(node, scope: -1 all | 0 rw | 1 ro) */
static napi_value plane_close_node(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct plane *p = unwrap(env, info, &argc, argv);
  if (p == NULL || argc < 2) return NULL;
  int32_t node, scope;
  napi_get_value_int32(env, argv[0], &node);
  napi_get_value_int32(env, argv[1], &scope);
  broadcast(p, (struct command){.kind = CMD_CLOSE_NODE, .node = node, .scope = scope});
  return NULL;
}

static napi_value plane_close_all(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  struct plane *p = unwrap(env, info, &argc, NULL);
  if (p == NULL) return NULL;
  broadcast(p, (struct command){.kind = CMD_CLOSE_ALL});
  return NULL;
}

/* stop(): ends the threads (their clients close) and waits for them; idempotent. */
static napi_value plane_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  struct plane *p = unwrap(env, info, &argc, NULL);
  if (p == NULL || p->stopped) return NULL;
  stop_threads(p);
  napi_release_threadsafe_function(p->on_event, napi_tsfn_release);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"setRoutes", NULL, plane_set_routes, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, plane_start, NULL, NULL, NULL, napi_default, NULL},
      {"stopAccepting", NULL, plane_stop_accepting, NULL, NULL, NULL, napi_default, NULL},
      {"closeNode", NULL, plane_close_node, NULL, NULL, NULL, napi_default, NULL},
      {"closeAll", NULL, plane_close_all, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, plane_stop, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor;
  if (napi_define_class(env, "Plane", NAPI_AUTO_LENGTH, plane_new, NULL, sizeof methods / sizeof methods[0], methods, &constructor) != napi_ok) {
    return NULL;
  }
  napi_set_named_property(env, exports, "Plane", constructor);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
