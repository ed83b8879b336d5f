/*
 * err.h - the one error enum of idnode.
 *
 * 0 is success, every error is negative. Foreign codes (errno, LMDB, OpenSSL,
 * libpq) are converted once, at the boundary where they appear, so the rest of
 * the code only ever sees these.
 */
#ifndef IDN_CORE_ERR_H
#define IDN_CORE_ERR_H

enum idn_err {
	IDN_OK = 0,
	IDN_EINVAL = -1,       /* bad argument or malformed input */
	IDN_ENOMEM = -2,       /* out of memory */
	IDN_ETRUNC = -3,       /* input ends before a field it announces */
	IDN_ESPACE = -4,       /* output buffer too small */
	IDN_ENOTFOUND = -5,    /* no such key */
	IDN_EEXIST = -6,       /* key already exists */
	IDN_EIO = -7,          /* I/O error */
	IDN_ESTORE = -8,       /* storage backend error */
	IDN_ETIMEOUT = -9,     /* operation timed out */
	IDN_ENET = -10,        /* network error */
	IDN_EPROTO = -11,      /* protocol violation by the peer */
	IDN_ECRYPTO = -12,     /* cryptographic library error */
	IDN_ERANGE = -13,      /* value out of range or over a limit */
	IDN_ENOTSUP = -14,     /* not supported */
	IDN_EBUSY = -15,       /* resource busy */
	IDN_ECONFIG = -16,     /* bad configuration */
	IDN_EVERSION = -17,    /* unsupported protocol version */
	IDN_EMISMATCH = -18,   /* answer does not match the request */
	IDN_ESTORE_FULL = -19, /* storage map full and could not grow */
	IDN_EDISK_FULL = -20,  /* no space left on the disk, or over quota */
	IDN_EAGAIN = -21,      /* cannot answer without waiting: ask again where waiting is fine */
};

/* A write failed for want of room (map or disk): answered "storage full". */
static inline int idn_err_full(int err)
{
	return err == IDN_ESTORE_FULL || err == IDN_EDISK_FULL;
}

/* A static, human-readable description of an idn_err code. */
const char *idn_strerror(int err);

/* errno -> idn_err. */
int idn_errno(int errnum);

#endif
