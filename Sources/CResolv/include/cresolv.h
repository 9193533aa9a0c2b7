/* The system resolver (glibc's res_nsearch and ns_parserr) for the core's SRV and NAPTR lookups: the resolver state
 * and the record accessors are macros and unions Swift does not import, so these wrappers give flat calls. */
#ifndef SWITCHYARD_CRESOLV_H
#define SWITCHYARD_CRESOLV_H
#include <stdint.h>

/* How a query is made. A negative number keeps the system's value (resolv.conf(5)). */
typedef struct cresolv_options {
    int retrans;      /* seconds before a query is sent again (dns_retr_time) */
    int retry;        /* how many times it is sent (dns_retr_no) */
    int servers;      /* how many of resolv.conf's servers are used (dns_servers_no) */
    int search;       /* 0: the search list is not applied (dns_use_search_list = 0) */
    const char *server_ip;  /* NULL, or the one IPv4 server to ask (a test's own DNS server) */
    int server_port;
} cresolv_options;

/* One resource record of an answer, parsed. Strings are NUL-terminated. */
typedef struct cresolv_rr {
    int type;          /* 1 A, 28 AAAA, 33 SRV, 35 NAPTR, other: not parsed */
    uint32_t ttl;
    uint16_t n1, n2, n3;   /* SRV: priority, weight, port; NAPTR: order, preference */
    unsigned char addr[16];/* A: 4 bytes, AAAA: 16 */
    char name[1025];       /* SRV target, NAPTR replacement ("" for the root) */
    char flags[256], services[256], regexp[256];  /* NAPTR */
} cresolv_rr;

/* Sends a query (class IN) for name and type; the answer's length in answer, or -1 (no such name, no data, no
 * answer, or an error): then *rcode is 3 (NXDOMAIN) or 0 (the name has no record of the type) when a server said
 * so, else -1 (no answer in time, a server failure, or an error). */
int cresolv_query(const char *name, int type, const cresolv_options *opt, unsigned char *answer, int size, int *rcode);

/* The number of answer records of a reply, or -1 when its header or sections do not parse. */
int cresolv_answer_count(const unsigned char *msg, int len);

/* Answer record `index` of a reply: 0 parsed, 1 a type not parsed (out->type set), -1 malformed. */
int cresolv_answer(const unsigned char *msg, int len, int index, cresolv_rr *out);
#endif
