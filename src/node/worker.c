/*
 * worker.c - a thread's worker (node.h): its read snapshot, batching, group
 * commit, the identity a caller has authenticated for it, and the node's
 * source of random bytes.
 */
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limit.h"
#include "node/answer.h"
#include "node/internal.h"
#include "node/template.h"
#include "node/login.h"
#include "node/stats_int.h"

int node_random_bytes(const node *n, uint8_t *buf, size_t len)
{
	if (n->cfg.random)
		return n->cfg.random(buf, len);
	return RAND_bytes(buf, (int)len) == 1 ? IDN_OK : IDN_ECRYPTO;
}

int node_worker_new(node *n, node_worker **out)
{
	node_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return IDN_ENOMEM;
	w->node = n;
	int ret = store_txn_begin(n->store, STORE_RDONLY, &w->rtxn);
	if (ret) {
		free(w);
		return ret;
	}
	store_txn_reset(w->rtxn);
	if ((ret = node_stats_worker_new(w))) {
		store_txn_abort(w->rtxn);
		free(w);
		return ret;
	}
	*out = w;
	return IDN_OK;
}

void node_worker_free(node_worker *w)
{
	if (!w)
		return;
	if (w->wtxn)
		store_txn_abort(w->wtxn); /* never acknowledged: see node_worker_commit */
	node_more_free(w->more);
	node_stats_worker_free(w);
	store_txn_abort(w->rtxn);
	tmpl_free(w->tmpl);
	free(w->tmpl_def);
	free(w);
}

int node_worker_snapshot(node_worker *w)
{
	w->seen = store_commits(w->node->store); /* before: the snapshot sees at least these */
	int ret = store_txn_renew(w->rtxn);
	if (ret)
		return ret;
	w->in_batch = true;
	/*
	 * The store's identity of the snapshot when it can say (LMDB: the same
	 * until a write commits, so the memos keyed on it live across
	 * requests); else a count of snapshots, its top bit set so the two
	 * never meet.
	 */
	uint64_t id = store_snapshot_id(w->rtxn);
	w->snap = id ? id & ~(UINT64_C(1) << 63) : ++w->snaps | UINT64_C(1) << 63;
	return IDN_OK;
}

void node_worker_hold(node_worker *w, bool on)
{
	if (!on)
		node_worker_end(w);
	w->hold = on;
}

int node_worker_read(node_worker *w)
{
	if (w->wtxn)
		return 0;
	if (w->in_batch) {
		if (!w->held || store_commits(w->node->store) == w->seen)
			return 0;
		node_worker_end(w); /* one of ours committed since: the request must see it */
	}
	int ret = node_worker_snapshot(w);
	if (ret)
		return ret;
	/*
	 * Held only where the store can name its snapshot (LMDB, this process's
	 * file): a PostgreSQL node may share its database with others, whose
	 * commits the count does not see.
	 */
	w->held = w->hold && !(w->snap >> 63);
	return w->held ? 0 : 1;
}

void node_worker_begin(node_worker *w)
{
	if (!w->in_batch && !w->wtxn)
		(void)node_worker_snapshot(w);
}

void node_worker_group(node_worker *w, bool on)
{
	w->group = w->group_on = on && store_can_nest(w->node->store);
}

bool node_worker_pending(const node_worker *w)
{
	return w->wtxn != NULL;
}

void node_worker_rollback(node_worker *w)
{
	if (w->wtxn)
		store_txn_abort(w->wtxn);
	w->wtxn = NULL;
	w->group_n = 0;
}

int node_worker_commit(node_worker *w)
{
	store_txn *t = w->wtxn;

	if (!t)
		return IDN_OK;
	w->wtxn = NULL;
	node_stats_commit(w, w->group_n);
	w->group_n = 0;
	int rc = store_txn_commit(t);
	/*
	 * Full: until a write is saved again, each commits on its own, so each
	 * is answered for itself and no read sees a write that may be lost.
	 */
	if (idn_err_full(rc))
		w->group = false;
	return rc;
}

int node_worker_unsaved(const uint8_t *ans, size_t len, int err, uint8_t *out, size_t cap)
{
	proto_env env;
	if (len < PROTO_ENV_LEN + PROTO_HDR_LEN || proto_env_decode(ans, len, &env) ||
	    (env.flags & PROTO_ENV_ENCRYPTED))
		return IDN_EINVAL;
	char msg[160];
	if (idn_err_full(err))
		limit_hit(LIM_STORAGE_FULL, "a batch's writes refused: %s", idn_strerror(err));
	snprintf(msg, sizeof(msg), "%s: the change was not saved (%s)",
	         idn_err_full(err) ? NODE_MSG_STORAGE_FULL : "storage error", idn_strerror(err));
	return node_answer_bare_error(&env, idn_be32(ans + PROTO_ENV_LEN), PROTO_RC_ERROR, msg, out,
	                              cap);
}

void node_worker_end(node_worker *w)
{
	if (w->in_batch) {
		store_txn_reset(w->rtxn);
		w->in_batch = w->held = false;
	}
}

uint32_t node_worker_rcode(const node_worker *w)
{
	return w->rcode;
}

void node_worker_allow_more(node_worker *w, bool on)
{
	w->more_ok = on;
}

node_more *node_worker_take_more(node_worker *w)
{
	node_more *m = w->more;
	w->more = NULL;
	return m;
}

void node_worker_act_as(node_worker *w, idn_slice handle, uint32_t index)
{
	w->as_handle = handle;
	w->as_index = index;
}

void node_source_of(const struct sockaddr *sa, socklen_t len, node_source *out)
{
	memset(out, 0, sizeof(*out));
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out->addr[10] = out->addr[11] = 0xFF; /* as ::ffff:a.b.c.d */
		memcpy(out->addr + 12, &in->sin_addr, 4);
		out->known = true;
	} else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		bool v4 = !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		/* One IPv6 site has a /64 to draw from: its share is the /64's. */
		memcpy(out->addr, a, v4 ? 16 : 8);
		out->known = true;
	}
}

void node_worker_source(node_worker *w, const struct sockaddr *sa, socklen_t len)
{
	node_source_of(sa, len, &w->src);
}

void node_worker_conn(node_worker *w, uint64_t conn_id)
{
	w->conn = conn_id;
}

void node_conn_closed(node_worker *w, uint64_t conn_id)
{
	if (conn_id)
		node_logins_drop(w->node->conn_logins, conn_id);
	if (w->conn == conn_id)
		w->conn = 0;
}

size_t node_logins_open(node *n)
{
	return node_logins_count(n->conn_logins);
}

void node_trim_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}
