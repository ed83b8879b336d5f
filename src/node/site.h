/*
 * site.h - a node's own HS_SITE record, built from its configuration: what
 * GET_SITE_INFO answers and what `idnode siteinfo` writes for a parent's
 * 0.NA/<prefix> record.
 *
 * One server per listen endpoint group: every server of the site gets a UDP
 * and a TCP query+admin interface on its port, and HTTP / HTTPS interfaces
 * when the node serves them (the servers of one site are configured alike). A multi-server site
 * lists its servers explicitly (site_server entries); a single-server site is derived from the
 * listen addresses.
 *
 * Ownership: site_build() writes into the caller's buffer; the spec and its
 * strings are borrowed for the call only.
 */
#ifndef IDN_NODE_SITE_H
#define IDN_NODE_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"

typedef struct site_server {
	uint32_t id;
	const char *endpoint; /* "A.B.C.D:PORT", "[V6]:PORT"; ":PORT" = advertise_addr */
} site_server;

typedef struct site_spec {
	const site_server *servers;
	unsigned nservers;
	uint16_t serial;
	uint8_t hash_opt;           /* enum proto_site_hash, for several servers */
	const char *advertise_addr; /* for wildcard endpoints; NULL = 127.0.0.1 */
	const char *desc;           /* "desc" attribute, may be NULL */
	idn_slice pubkey;           /* HS_PUBKEY data of the servers' key, may be empty */
	/*
	 * The HTTP and HTTPS listeners ("ADDR:PORT" as configured, NULL = none):
	 * every server then lists a query+admin interface on that port, as the
	 * reference server lists its HTTP interface. Port 0 (picked at start) is
	 * not advertised: no one could reach it from the record.
	 */
	const char *http, *https;
} site_spec;

/*
 * Writes the HS_SITE data into out and returns its length, or a negative
 * idn_err with a reason naming the endpoint in err.
 */
int site_build(const site_spec *spec, uint8_t *out, size_t cap, char *err, size_t errlen);

#endif
