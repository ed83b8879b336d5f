/*
 * site_info.c - our HS_SITE from the site settings, for the running node and
 * `idnode siteinfo` alike (server/server.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/site.h"
#include "server/server.h"

int server_site_info(const server_settings *s, auth_key **key, uint8_t *out, size_t cap, char *err,
                     size_t errlen)
{
	uint8_t pub[4096];
	wire_wr pw = wire_wr_init(pub, sizeof(pub));
	auth_key *k = NULL;
	site_server srv[SETTINGS_LIST_MAX];
	unsigned n = 0;
	int len = -1;

	if (s->server_key) {
		char kerr[512];
		if (auth_key_load(s->server_key, &k, kerr, sizeof(kerr)) ||
		    auth_key_public(k, &pw)) {
			snprintf(err, errlen, "server_key %s",
			         k ? "has no usable public half" : kerr);
			goto out;
		}
	}
	for (unsigned i = 0; i < s->site_server.n; i++) {
		const char *entry = s->site_server.v[i];
		char *at = strchr(entry, '@'), *end;
		unsigned long id = at ? strtoul(entry, &end, 10) : 0;
		if (!at || end != at || id > 0xFFFFFFFFul) {
			snprintf(err, errlen, "site_server '%s': not ID@ADDR:PORT", entry);
			goto out;
		}
		srv[n++] = (site_server){(uint32_t)id, at + 1};
	}
	if (n == 0) /* one server alone, at the first listen address */
		srv[n++] = (site_server){s->server_id, s->listen.n ? s->listen.v[0] : ":2641"};
	site_spec spec = {
	    .servers = srv,
	    .nservers = n,
	    .serial = (uint16_t)s->site_serial,
	    .hash_opt = (uint8_t)s->site_hash,
	    .advertise_addr = s->advertise,
	    .desc = s->site_desc,
	    .pubkey = idn_slice_of(pub, wire_wr_len(&pw)),
	    .http = s->http.n ? s->http.v[0] : NULL,
	    .https = s->https.n ? s->https.v[0] : NULL,
	};
	char serr[256];
	if ((len = site_build(&spec, out, cap, serr, sizeof(serr))) < 0) {
		snprintf(err, errlen, "our site: %s", serr);
		len = -1;
		goto out;
	}
	if (key) {
		*key = k;
		k = NULL;
	}
out:
	auth_key_free(k);
	return len;
}
