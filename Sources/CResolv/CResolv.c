#include "cresolv.h"
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

int cresolv_query(const char *name, int type, const cresolv_options *opt, unsigned char *answer, int size, int *rcode) {
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) { *rcode = -1; return -1; }
    if (opt->retrans > 0) st.retrans = opt->retrans;
    if (opt->retry > 0) st.retry = opt->retry;
    if (opt->servers >= 0 && opt->servers < st.nscount) st.nscount = opt->servers;
    if (opt->search == 0) st.options &= ~(RES_DEFNAMES | RES_DNSRCH);
    if (opt->server_ip) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)opt->server_port);
        if (inet_pton(AF_INET, opt->server_ip, &sa.sin_addr) != 1) { res_nclose(&st); *rcode = -1; return -1; }
        st.nsaddr_list[0] = sa;
        st.nscount = 1;
        /* An IPv6 server of resolv.conf sits in _u._ext.nsaddrs and is used instead of nsaddr_list's entry: dropped
         * (freed as res_nclose would), so the test's server is the one asked. */
        for (int i = 0; i < MAXNS; i++) {
            free(st._u._ext.nsaddrs[i]);
            st._u._ext.nsaddrs[i] = NULL;
        }
    }
    int n = res_nsearch(&st, name, ns_c_in, type, answer, size);
    *rcode = -1;
    if (n < 0 && st.res_h_errno == HOST_NOT_FOUND) *rcode = ns_r_nxdomain;
    if (n < 0 && st.res_h_errno == NO_DATA) *rcode = ns_r_noerror;
    if (n > size) n = size;
    res_nclose(&st);
    return n;
}

int cresolv_answer_count(const unsigned char *msg, int len) {
    ns_msg h;
    if (ns_initparse(msg, len, &h) != 0) return -1;
    return ns_msg_count(h, ns_s_an);
}

/* A <character-string> at p (length byte, then bytes) into out; the next position, or NULL past end. */
static const unsigned char *charstr(const unsigned char *p, const unsigned char *end, char *out) {
    if (p >= end || p + 1 + *p > end) return NULL;
    memcpy(out, p + 1, *p);
    out[*p] = 0;
    return p + 1 + *p;
}

int cresolv_answer(const unsigned char *msg, int len, int index, cresolv_rr *out) {
    ns_msg h;
    ns_rr rr;
    memset(out, 0, sizeof *out);
    if (ns_initparse(msg, len, &h) != 0 || ns_parserr(&h, ns_s_an, index, &rr) != 0) return -1;
    out->type = ns_rr_type(rr);
    out->ttl = ns_rr_ttl(rr);
    const unsigned char *p = ns_rr_rdata(rr), *end = p + ns_rr_rdlen(rr);
    int n;
    switch (out->type) {
    case ns_t_a:
        if (end - p != 4) return -1;
        memcpy(out->addr, p, 4);
        return 0;
    case ns_t_aaaa:
        if (end - p != 16) return -1;
        memcpy(out->addr, p, 16);
        return 0;
    case ns_t_srv:
        if (end - p < 7) return -1;
        out->n1 = ns_get16(p); out->n2 = ns_get16(p + 2); out->n3 = ns_get16(p + 4);
        /* The target must end inside its record (dn_expand only knows the message's end). */
        n = dn_expand(msg, msg + len, p + 6, out->name, sizeof out->name);
        if (n < 0 || p + 6 + n > end) return -1;
        return 0;
    case ns_t_naptr:
        if (end - p < 7) return -1;
        out->n1 = ns_get16(p); out->n2 = ns_get16(p + 2);
        p += 4;
        if (!(p = charstr(p, end, out->flags)) || !(p = charstr(p, end, out->services))
            || !(p = charstr(p, end, out->regexp)) || p >= end) return -1;
        n = dn_expand(msg, msg + len, p, out->name, sizeof out->name);
        if (n < 0 || p + n > end) return -1;
        return 0;
    default:
        return 1;
    }
}
