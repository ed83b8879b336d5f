/* err.c - idn_strerror() and the conversions of foreign error codes (see err.h). */
#include "core/err.h"

#include <errno.h>

const char *idn_strerror(int err)
{
	switch (err) {
	case IDN_OK:
		return "success";
	case IDN_EINVAL:
		return "invalid argument or malformed input";
	case IDN_ENOMEM:
		return "out of memory";
	case IDN_ETRUNC:
		return "input truncated";
	case IDN_ESPACE:
		return "output buffer too small";
	case IDN_ENOTFOUND:
		return "not found";
	case IDN_EEXIST:
		return "already exists";
	case IDN_EIO:
		return "I/O error";
	case IDN_ESTORE:
		return "storage error";
	case IDN_ETIMEOUT:
		return "timed out";
	case IDN_ENET:
		return "network error";
	case IDN_EPROTO:
		return "protocol error";
	case IDN_ECRYPTO:
		return "cryptographic error";
	case IDN_ERANGE:
		return "value out of range";
	case IDN_ENOTSUP:
		return "not supported";
	case IDN_EBUSY:
		return "busy";
	case IDN_ECONFIG:
		return "configuration error";
	case IDN_EVERSION:
		return "unsupported protocol version";
	case IDN_EMISMATCH:
		return "answer does not match the request";
	case IDN_EAGAIN:
		return "would wait: to be answered later";
	case IDN_ESTORE_FULL:
		return "storage full";
	case IDN_EDISK_FULL:
		return "disk full";
	}
	return "unknown error";
}

int idn_errno(int errnum)
{
	switch (errnum) {
	case 0:
		return IDN_OK;
	case ENOMEM:
		return IDN_ENOMEM;
	case EINVAL:
		return IDN_EINVAL;
	case ENOENT:
		return IDN_ENOTFOUND;
	case EEXIST:
		return IDN_EEXIST;
	case ETIMEDOUT:
	case EAGAIN:
		return IDN_ETIMEOUT;
	case ENOSPC:
		return IDN_ESTORE_FULL;
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EPIPE:
		return IDN_ENET;
	case EBUSY:
		return IDN_EBUSY;
	case ERANGE:
	case EMSGSIZE:
		return IDN_ERANGE;
	}
	return IDN_EIO;
}
