/*
 * pg_rows.h - internal to the PostgreSQL backend: an idnode record (the
 * format proto/record.h owns: u8 version 1, u8 flags, u16 0, u32 count, the
 * values in wire encoding) to and from the rows of the reference software's
 * `handles` table, one row per value.
 *
 * Records are read and built with proto/record.h, the one definition of the
 * format.
 *
 * refs: the reference keeps a value's references as text, "INDEX:HANDLE"
 * items separated by tabs. A handle holding a tab, a NUL or invalid UTF-8
 * cannot be written that way: pg_rows_from_record() says so (IDN_ERANGE) and
 * the backend then keeps the record without rows.
 */
#ifndef IDN_STORE_PG_ROWS_H
#define IDN_STORE_PG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "proto/proto.h"

/* One row of `handles`, columns as the reference names them. Borrowed bytes. */
typedef struct pg_row {
	int32_t idx;
	idn_slice type, data;
	int16_t ttl_type;
	int32_t ttl;
	int32_t timestamp;
	idn_slice refs; /* text: "IDX:HANDLE\tIDX:HANDLE" */
	bool admin_read, admin_write, pub_read, pub_write;
} pg_row;

/*
 * Decodes a record whole. Returns the value count (>= 0) with vals filled
 * (at most cap; IDN_ESPACE beyond), or IDN_ESTORE when raw is not a record.
 * The values borrow raw.
 */
int pg_rows_values(idn_slice raw, proto_value *vals, uint32_t cap);

/*
 * Renders v's references as the reference's text into out (cap bytes).
 * Returns the length, IDN_ESPACE, or IDN_ERANGE (not representable).
 */
int pg_rows_refs_text(const proto_value *v, char *out, size_t cap);

/* Row -> value: refs parsed into refbuf (cap bytes). IDN_EINVAL on bad refs text. */
int pg_rows_to_value(const pg_row *r, uint8_t *refbuf, size_t cap, proto_value *v);

#endif
