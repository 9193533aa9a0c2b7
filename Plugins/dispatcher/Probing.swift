// Probing: every ds_ping_interval seconds (timer ds-pinger) a ds_ping_method request (OPTIONS) goes to each
// destination that is not inactive and is either probing, or has probe_mode 1, or every one with ds_probing_mode 1.
// With tm loaded the probe is tm's local request (TMProbe.swift; timeout fr_timeout); without it, the core's stateless
// sip_request (timeout ds_ping_timeout). From the destination's socket, else the partition's ping_sock, else
// ds_probing_sock; Max-Forwards is ds_ping_maxfwd when >= 0. A 200 or an options_reply_codes code makes it active (failure counter reset); any other final
// code (a local 408 timeout, 477 not sent) counts a failure when ds_probing_mode is 1 or the destination has
// probe_mode 1, and ds_probing_threshold failures put it in probing.
// As OpenSIPS, a round probes whatever earlier probes are still pending (a dead box is seen after about
// interval x threshold + timeout, not threshold x timeout); each probe's result counts on its own.
import Synchronization
import DispatcherSelection
import SwitchyardPluginKit

/// Probes in flight per destination. Each probe ends within its timeout, so at most ceil(timeout / interval) + 1 are
/// pending at once (what OpenSIPS has); that is the cap, so a probe that outlived its timeout cannot pile up others.
/// Keyed by identity: a destination with a probe in flight is kept alive by the probe's completion.
final class InFlight: Sendable {
    private let counts = Mutex<[ObjectIdentifier: Int]>([:])

    /// Counts a new probe of `d` unless `limit` are pending already.
    func begin(_ d: Destination, limit: Int) -> Bool {
        counts.withLock { c in
            let n = c[ObjectIdentifier(d), default: 0]
            guard n < limit else { return false }
            c[ObjectIdentifier(d)] = n + 1
            return true
        }
    }

    func end(_ d: Destination) {
        counts.withLock { c in
            let id = ObjectIdentifier(d)
            if let n = c[id] { c[id] = n > 1 ? n - 1 : nil }
        }
    }

    /// Probes of `d` pending now.
    func pending(_ d: Destination) -> Int { counts.withLock { $0[ObjectIdentifier(d), default: 0] } }
}

extension DispatcherModule {
    func probeTimeout(_ cfg: DSConfig) -> UInt32 {
        if cfg.pingTimeoutMs > 0 { return UInt32(cfg.pingTimeoutMs) }
        return UInt32(max(100, min(cfg.pingInterval * 500, 5000)))
    }

    func probeRound() {
        guard let rt else { return }
        let cfg = rt.cfg
        for p in rt.parts {
            for set in p.data.sets {
                if let list = cfg.probingList, !list.contains(set.id) { continue }
                for d in set.dests {
                    let f = d.flags.load(ordering: .relaxed)
                    if f & DSFlag.inactive != 0 { continue }
                    guard cfg.probingMode == 1 || f & DSFlag.probing != 0 || d.probeMode == 1 else { continue }
                    probe(d, part: p, cfg: cfg)
                }
            }
        }
    }

    /// The most probes of one destination pending at once: ceil(timeout / ds_ping_interval) + 1, the timeout being
    /// tm's fr_timeout, or the stateless probe's.
    func probeLimit(_ cfg: DSConfig) -> Int {
        let timeout = Int64(tmBinding?.frTimeoutMS ?? probeTimeout(cfg))
        let interval = max(cfg.pingInterval, 1) * 1000
        return Int((timeout + interval - 1) / interval) + 1
    }

    private func probe(_ d: Destination, part: Partition, cfg: DSConfig) {
        guard inFlight.begin(d, limit: probeLimit(cfg)) else {
            host.log(.dbg, "set \(d.setID) <\(DestURI.redacted(d.uri))>: \(inFlight.pending(d)) probes pending, none sent this round")
            return
        }
        let method = part.cfg.pingMethod ?? cfg.pingMethod
        let from = part.cfg.pingFrom ?? cfg.pingFrom
        var headers = "From: <\(from)>\r\n"
        if cfg.pingMaxfwd >= 0 { headers += "Max-Forwards: \(cfg.pingMaxfwd)\r\n" }
        let socket = !d.socket.isEmpty ? d.socket : (part.cfg.pingSock ?? cfg.probingSock)
        let done: @Sendable (Int) -> Void = { [self] code in
            inFlight.end(d)
            if code == 0 { return } // the server stopped first: says nothing about the destination
            probeReply(d, part: part, code: code, cfg: cfg)
        }
        let timeout = probeTimeout(cfg)
        var rc: Int32
        if let tm = tmBinding {
            rc = tm.uac(method: method, ruri: d.uri, headers: headers, socket: socket, done: done)
            if rc == -3 {
                warnOnce("probesock" + socket, "cannot probe from socket <\(socket)>: probing from the core's choice")
                rc = tm.uac(method: method, ruri: d.uri, headers: headers, socket: "", done: done)
            }
        } else if socket.isEmpty {
            rc = host.sipRequest(method: method, ruri: d.uri, extraHeaders: headers, timeoutMS: timeout, done: done) ? 0 : -1
        } else {
            rc = host.sipRequest(method: method, ruri: d.uri, extraHeaders: headers, socket: socket, timeoutMS: timeout, done: done)
            if rc == -3 || rc == -4 {
                warnOnce("probesock" + socket, "cannot probe from socket <\(socket)>: probing from the core's choice")
                rc = host.sipRequest(method: method, ruri: d.uri, extraHeaders: headers, timeoutMS: timeout, done: done) ? 0 : -1
            }
        }
        if rc != 0 {
            inFlight.end(d)
            warnOnce("probesend", "cannot send \(method) probes (no SIP transport loaded?)")
            if cfg.probingMode == 1 || d.probeMode == 1 {
                changeState(d, part: part, to: .probing, reason: "failed to send probe", thresholded: true)
            }
        }
    }

    func probeReply(_ d: Destination, part: Partition, code: Int, cfg: DSConfig) {
        host.log(.dbg, "probe of set \(d.setID) <\(DestURI.redacted(d.uri))>: \(code)")
        if code == 200 || cfg.optionsReplyCodes.contains(code) {
            d.failures.store(0, ordering: .relaxed)
            changeState(d, part: part, to: .active, reason: "200 OK probing reply", thresholded: false)
        } else if code >= 200, cfg.probingMode == 1 || d.probeMode == 1 {
            changeState(d, part: part, to: .probing, reason: code == 477 ? "failed to send probe" : "negative probing reply",
                        thresholded: true)
        }
    }
}
