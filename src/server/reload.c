/*
 * reload.c - SIGHUP: `idnode serve`'s command line (the -c file under its
 * flags) read again. The rows of settings_table.c marked reload take their
 * new values; the HTTPS certificate and key are loaded again whether or not
 * their paths changed (a certificate renewed in place); every other setting
 * whose value changed is logged as needing a restart. A file that does not
 * parse is said and nothing changes. Runs on the statistics thread.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/quota.h"
#include "server/internal.h"

#define FIELD(s, r, type) ((type *)((char *)(s) + (r)->field))

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same(const server_settings *a, const server_settings *b, const setting_row *r)
{
	switch (r->type) {
	case SETTING_STR:
	case SETTING_FILE:
		return same_str(*FIELD(a, r, char *const), *FIELD(b, r, char *const));
	case SETTING_LIST: {
		const settings_list *x = FIELD(a, r, const settings_list);
		const settings_list *y = FIELD(b, r, const settings_list);
		if (x->n != y->n)
			return false;
		for (unsigned i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]))
				return false;
		return true;
	}
	case SETTING_UINT:
		return *FIELD(a, r, const unsigned) == *FIELD(b, r, const unsigned);
	case SETTING_ULONG:
		return *FIELD(a, r, const unsigned long) == *FIELD(b, r, const unsigned long);
	case SETTING_BOOL:
	case SETTING_CHOICE:
		return *FIELD(a, r, const int) == *FIELD(b, r, const int);
	}
	return true;
}

/* A row whose field an earlier row fills too (data and store): compared there. */
static bool field_seen(size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (settings_rows[j].field == settings_rows[i].field)
			return true;
	return false;
}

/* The value of a reloadable row moves from next to cur (strings swap: next frees the old). */
static void take(server_settings *cur, server_settings *next, const setting_row *r)
{
	switch (r->type) {
	case SETTING_STR: {
		char *t = *FIELD(cur, r, char *);
		*FIELD(cur, r, char *) = *FIELD(next, r, char *);
		*FIELD(next, r, char *) = t;
		break;
	}
	case SETTING_UINT:
		*FIELD(cur, r, unsigned) = *FIELD(next, r, unsigned);
		break;
	case SETTING_ULONG:
		*FIELD(cur, r, unsigned long) = *FIELD(next, r, unsigned long);
		break;
	default: /* no list, bool or choice row is reloadable (test_settings checks) */
		break;
	}
}

void server_reload(server_settings *cur, node *n, api_server *http)
{
	server_settings next;
	if (!cur->argv) {
		fprintf(stderr, "idnode: reload: no command line to read again\n");
		return;
	}
	fprintf(stderr, "idnode: reload: reading %s\n", cur->config ? cur->config : "the flags");
	if (settings_parse_serve(&next, cur->argc, cur->argv, stderr, stderr) != SETTINGS_OK) {
		fprintf(stderr,
		        "idnode: reload: the settings above do not parse: nothing changed\n");
		settings_free(&next);
		return;
	}
	unsigned applied = 0, restart = 0;
	for (size_t i = 0; i < settings_nrows; i++) {
		const setting_row *r = &settings_rows[i];
		if (r->type == SETTING_FILE || field_seen(i) || same(cur, &next, r))
			continue;
		const char *name = r->ini ? r->ini : r->flag;
		if (!r->reload) {
			fprintf(stderr,
			        "idnode: reload: %s changed: takes effect at the next restart\n",
			        name);
			restart++;
			continue;
		}
		take(cur, &next, r);
		fprintf(stderr, "idnode: reload: %s changed: applied\n", name);
		applied++;
	}
	if (n)
		node_quota_set_defaults(n, cur->quota_daily, cur->quota_identifiers,
		                        cur->quota_children);
	if (http && cur->https.n) {
		char err[512];
		if (api_serve_reload_tls(http, cur->tls_cert, cur->tls_key, err, sizeof(err)))
			fprintf(stderr, "idnode: reload: %s: the running certificate stays\n", err);
		else
			fprintf(stderr, "idnode: reload: TLS certificate %s and key %s loaded\n",
			        cur->tls_cert, cur->tls_key);
	}
	fprintf(stderr, "idnode: reload: done: %u setting%s applied, %u need%s a restart\n",
	        applied, applied == 1 ? "" : "s", restart, restart == 1 ? "s" : "");
	settings_free(&next);
}
