/*
 * pq.h - libpq, loaded when a PostgreSQL store is first opened.
 *
 * idnode links no PostgreSQL code: libpq and what it pulls in (Kerberos,
 * LDAP, GnuTLS: some 3 MB of resident pages at start) would be mapped into
 * every node, most of which run on LMDB. The PostgreSQL backend includes
 * this header instead of <libpq-fe.h>; its PQ* calls go through a table that
 * idn_pq_load() fills with dlopen("libpq.so.5") and dlsym. The types and
 * constants are libpq's own (from <libpq-fe.h>).
 */
#ifndef IDN_STORE_PQ_H
#define IDN_STORE_PQ_H

#include <libpq-fe.h>
#include <stddef.h>

#define IDN_PQ_FUNCS(X)                                                                            \
	X(PQconnectdb)                                                                             \
	X(PQfinish)                                                                                \
	X(PQstatus)                                                                                \
	X(PQerrorMessage)                                                                          \
	X(PQexec)                                                                                  \
	X(PQprepare)                                                                               \
	X(PQexecPrepared)                                                                          \
	X(PQexecParams)                                                                            \
	X(PQresultStatus)                                                                          \
	X(PQresultErrorMessage)                                                                    \
	X(PQresultErrorField)                                                                      \
	X(PQntuples)                                                                               \
	X(PQnfields)                                                                               \
	X(PQgetvalue)                                                                              \
	X(PQgetlength)                                                                             \
	X(PQgetisnull)                                                                             \
	X(PQclear)                                                                                 \
	X(PQcmdTuples)                                                                             \
	X(PQtransactionStatus)                                                                     \
	X(PQputCopyData)                                                                           \
	X(PQputCopyEnd)                                                                            \
	X(PQgetCopyData)                                                                           \
	X(PQgetResult)                                                                             \
	X(PQsendQuery)                                                                             \
	X(PQsendQueryParams)                                                                       \
	X(PQsendQueryPrepared)                                                                     \
	X(PQconsumeInput)                                                                          \
	X(PQisBusy)                                                                                \
	X(PQsetnonblocking)                                                                        \
	X(PQflush)                                                                                 \
	X(PQsocket)                                                                                \
	X(PQreset)                                                                                 \
	X(PQfreemem)                                                                               \
	X(PQescapeLiteral)                                                                         \
	X(PQescapeIdentifier)                                                                      \
	X(PQserverVersion)                                                                         \
	X(PQresStatus)                                                                             \
	X(PQenterPipelineMode)                                                                     \
	X(PQexitPipelineMode)                                                                      \
	X(PQpipelineSync)                                                                          \
	X(PQmakeEmptyPGresult)

struct idn_pq {
#define IDN_PQ_MEMBER(f) __typeof__(f) *f;
	IDN_PQ_FUNCS(IDN_PQ_MEMBER)
#undef IDN_PQ_MEMBER
};

extern struct idn_pq idn_pq;

/*
 * Loads libpq once (thread-safe; later calls return the first result).
 * IDN_OK, or IDN_ENOTSUP with the reason (libpq not installed, a symbol
 * missing) in err.
 */
int idn_pq_load(char *err, size_t errlen);

#ifndef IDN_PQ_IMPL
#define PQconnectdb          idn_pq.PQconnectdb
#define PQfinish             idn_pq.PQfinish
#define PQstatus             idn_pq.PQstatus
#define PQerrorMessage       idn_pq.PQerrorMessage
#define PQexec               idn_pq.PQexec
#define PQprepare            idn_pq.PQprepare
#define PQexecPrepared       idn_pq.PQexecPrepared
#define PQexecParams         idn_pq.PQexecParams
#define PQresultStatus       idn_pq.PQresultStatus
#define PQresultErrorMessage idn_pq.PQresultErrorMessage
#define PQresultErrorField   idn_pq.PQresultErrorField
#define PQntuples            idn_pq.PQntuples
#define PQnfields            idn_pq.PQnfields
#define PQgetvalue           idn_pq.PQgetvalue
#define PQgetlength          idn_pq.PQgetlength
#define PQgetisnull          idn_pq.PQgetisnull
#define PQclear              idn_pq.PQclear
#define PQcmdTuples          idn_pq.PQcmdTuples
#define PQtransactionStatus  idn_pq.PQtransactionStatus
#define PQputCopyData        idn_pq.PQputCopyData
#define PQputCopyEnd         idn_pq.PQputCopyEnd
#define PQgetCopyData        idn_pq.PQgetCopyData
#define PQgetResult          idn_pq.PQgetResult
#define PQsendQuery          idn_pq.PQsendQuery
#define PQsendQueryParams    idn_pq.PQsendQueryParams
#define PQsendQueryPrepared  idn_pq.PQsendQueryPrepared
#define PQconsumeInput       idn_pq.PQconsumeInput
#define PQisBusy             idn_pq.PQisBusy
#define PQsetnonblocking     idn_pq.PQsetnonblocking
#define PQflush              idn_pq.PQflush
#define PQsocket             idn_pq.PQsocket
#define PQreset              idn_pq.PQreset
#define PQfreemem            idn_pq.PQfreemem
#define PQescapeLiteral      idn_pq.PQescapeLiteral
#define PQescapeIdentifier   idn_pq.PQescapeIdentifier
#define PQserverVersion      idn_pq.PQserverVersion
#define PQresStatus          idn_pq.PQresStatus
#define PQenterPipelineMode  idn_pq.PQenterPipelineMode
#define PQexitPipelineMode   idn_pq.PQexitPipelineMode
#define PQpipelineSync       idn_pq.PQpipelineSync
#define PQmakeEmptyPGresult  idn_pq.PQmakeEmptyPGresult
#endif

#endif
