/*
 * server.h - a running node, assembled from its settings (server/settings.h):
 * the store, the node, the recursive resolver, the mirror, the Handle UDP/TCP
 * listeners (net/) and the HTTP/TLS ones (api/), connected and run until
 * SIGTERM or SIGINT.
 *
 * What every request goes through on its way from net/ to the node or the
 * resolver is in server/requests.c; the SIGUSR1 statistics in stats.c.
 */
#ifndef IDN_SERVER_SERVER_H
#define IDN_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "auth/sign.h"
#include "server/settings.h"

/*
 * Runs a node until a signal stops it. Everything it started is stopped and
 * freed before it returns. Returns 0 after a clean stop, or a negative
 * idn_err after saying on stderr what failed ("idnode serve: ...").
 * s is borrowed for the whole run; on SIGHUP its reloadable settings change
 * (server/internal.h, server_reload).
 */
int server_run(server_settings *s);

/*
 * Blocks SIGHUP and SIGUSR1 in the calling thread, and so in every thread it
 * starts. `idnode serve` calls it first, before anything slow: from then on
 * neither signal can kill the starting process. server_run's statistics
 * thread takes them with sigwait once it runs; a SIGHUP that came before the
 * node serves is held and reloads as soon as it does. (server_run calls it
 * too, for callers that did not.)
 */
void server_hold_signals(void);

/*
 * Our HS_SITE record from the site settings (listen, server_id, site_serial,
 * site_server, site_hash, site_desc, advertise, server_key): what the node
 * answers to GET_SITE_INFO and `idnode siteinfo` writes. Returns its length
 * in out, or -1 with the reason in err. key: when not NULL, the loaded
 * server_key is handed over (*key NULL without one; the caller frees it
 * with auth_key_free); when NULL, it is freed here.
 */
int server_site_info(const server_settings *s, auth_key **key, uint8_t *out, size_t cap, char *err,
                     size_t errlen);

#endif
