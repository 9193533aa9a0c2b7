// Statistics of group `tm` (OpenSIPS names).
import SwitchyardPluginKit

struct TMStats: Sendable {
    let receivedReplies, relayedReplies, localReplies, uas, uac, inuse: SYStat
    let byClass: [SYStat]  // 2xx..6xx
    let retrReqT1_1, retrReqT1_2, retrReqT1_3, retrReqT2, retrRplT2: SYStat
    let timeoutFR, timeoutFRInv: SYStat

    static let names = ["received_replies", "relayed_replies", "local_replies", "UAS_transactions", "UAC_transactions",
                        "2xx_transactions", "3xx_transactions", "4xx_transactions", "5xx_transactions", "6xx_transactions",
                        "inuse_transactions", "retransmission_req_T1_1", "retransmission_req_T1_2",
                        "retransmission_req_T1_3", "retransmission_req_T2", "retransmission_rpl_T2",
                        "timeout_finalresponse", "timeout_finalresponse_inv",
                        // Registered by OpenSIPS whether or not a replication cluster is set; always 0 here.
                        "cluster_reply_sent", "cluster_request_sent", "cluster_cancel_sent", "cluster_reply_recv",
                        "cluster_request_recv", "cluster_cancel_recv"]

    init?(host: PluginHost) {
        var s: [String: SYStat] = [:]
        for n in TMStats.names {
            guard let st = host.statRegister(n, flags: n == "inuse_transactions" ? [.noReset] : []) else { return nil }
            s[n] = st
        }
        func g(_ n: String) -> SYStat { s[n]! }  // every name was just registered above
        receivedReplies = g("received_replies"); relayedReplies = g("relayed_replies"); localReplies = g("local_replies")
        uas = g("UAS_transactions"); uac = g("UAC_transactions"); inuse = g("inuse_transactions")
        byClass = (2...6).map { g("\($0)xx_transactions") }
        retrReqT1_1 = g("retransmission_req_T1_1"); retrReqT1_2 = g("retransmission_req_T1_2")
        retrReqT1_3 = g("retransmission_req_T1_3"); retrReqT2 = g("retransmission_req_T2")
        retrRplT2 = g("retransmission_rpl_T2")
        timeoutFR = g("timeout_finalresponse"); timeoutFRInv = g("timeout_finalresponse_inv")
    }
}
