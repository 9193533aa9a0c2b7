// Gateway probing: every `probing_interval` seconds, on the core's timer thread, a `probing_method`
// request goes to "sip:" + the gateway's hostport[;params] of every gateway with probe_mode 2, and of every currently
// disabled gateway with probe_mode 1; gateways disabled by MI (or DB state 1) are never probed. The final reply comes
// back on a core thread: 200 or a `probing_reply_codes` code re-enables (unless MI-disabled), >= 400 (a local 408
// timeout and a 477 "could not send" included) disables, 1xx/3xx/other 2xx change nothing. Every change raises
// E_DROUTING_STATUS. State lives in the gateways' shared atomic StateCells (handed over by dr_reload), so workers
// reading it, MI, dr_disable and replies never need a lock; at most one probe per gateway is in flight.
import Foundation
import SwitchyardPluginKit
import Synchronization

extension DroutingModule {
    /// The reply timeout of one probe (ms).
    static func probeTimeout(_ cfg: DRConfig) -> UInt32 {
        if cfg.probingTimeoutMS > 0 { return UInt32(cfg.probingTimeoutMS) }
        return UInt32(max(100, min(cfg.probingInterval * 500, 2000)))
    }

    func startProbing(_ cfg: DRConfig) throws {
        guard cfg.probingInterval > 0 else {
            host.log(.info, "gateway probing disabled (probing_interval 0)")
            return
        }
        let ms = UInt32(min(cfg.probingInterval, Int64(UInt32.max / 1000)) * 1000)
        // The timer thread only hands the round over: sending may resolve gateway hostnames (blocking DNS).
        guard let t = host.timerAdd("drouting-probing", intervalMs: ms, { [self] in
            guard !roundQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
            probeQueue.async { [self] in
                roundQueued.store(false, ordering: .releasing)
                probeRound()
            }
        }) else {
            throw PluginError("cannot register the probing timer")
        }
        probeTimer.withLock { $0 = t }
    }

    func stopProbing() {
        if let t = probeTimer.withLock({ t -> SYTimer? in defer { t = nil }; return t }) { host.timerRemove(t) }
    }

    /// Whether a gateway in state `bits` gets a probe this round.
    static func shouldProbe(probeMode: Int, bits: UInt8) -> Bool {
        if bits & StateCell.byMI != 0 { return false }
        return probeMode == 2 || (probeMode == 1 && bits & StateCell.disabled != 0)
    }

    /// One probing round (timer thread): sends the due probes and returns at once.
    func probeRound() {
        guard probingOn.load(ordering: .relaxed) else { return }
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return }
        let cfg = rt.cfg
        let timeout = Self.probeTimeout(cfg)
        for gw in snap.gateways {
            guard Self.shouldProbe(probeMode: gw.probeMode, bits: gw.state.bits.load(ordering: .relaxed)) else { continue }
            // One probe in flight per gateway (a reply slower than the interval does not pile up requests).
            guard gw.state.probing.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
                continue
            }
            let ruri = "sip:" + gw.ipStr
            let onReply: @Sendable (Int) -> Void = { [self] code in
                gw.state.probing.store(false, ordering: .releasing)
                // 0: the server stopped before an answer; that says nothing about the gateway.
                if code == 0 {
                    host.log(.dbg, "probe of gateway \(gw.id) cancelled at shutdown: state unchanged")
                    return
                }
                probeReply(gw, code: code, cfg: cfg)
            }
            let headers = "From: <\(cfg.probingFrom)>\r\n"
            // From the gateway's own socket, else probing_socket, else the core's choice.
            let from = gw.state.probeSocketRefused.load(ordering: .relaxed) ? "" : (gw.socket.isEmpty ? cfg.probingSocket : gw.socket)
            var sent: Bool
            if from.isEmpty {
                sent = host.sipRequest(method: cfg.probingMethod, ruri: ruri, extraHeaders: headers, timeoutMS: timeout, done: onReply)
            } else {
                let rc = host.sipRequest(method: cfg.probingMethod, ruri: ruri, extraHeaders: headers, socket: from,
                                         timeoutMS: timeout, done: onReply)
                if rc == -3 || rc == -4 {
                    // The gateway's own socket: once per gateway and load; probing_socket: once per load.
                    let first = gw.socket.isEmpty ? !probingSocketWarned.exchange(true, ordering: .relaxed)
                        : !gw.state.probeSocketRefused.exchange(true, ordering: .relaxed)
                    if gw.socket.isEmpty { gw.state.probeSocketRefused.store(true, ordering: .relaxed) }
                    if first {
                        host.log(.err, rc == -4 ? "probes cannot choose their socket (the core is older than ABI 1.5); probing from the core's choice"
                                 : "gateway \(gw.id): cannot probe from socket <\(from)> (not a listening socket that reaches it); probing from the core's choice")
                    }
                    sent = host.sipRequest(method: cfg.probingMethod, ruri: ruri, extraHeaders: headers, timeoutMS: timeout,
                                           done: onReply)
                } else {
                    sent = rc == 0
                }
            }
            if !sent {
                gw.state.probing.store(false, ordering: .releasing)
                // The core has no SIP transport (OpenSIPS would refuse to start without tm): probing cannot work; the
                // gateways keep their state rather than all going down.
                if !probeSendWarned.exchange(true, ordering: .relaxed) {
                    host.log(.warn, "cannot send \(cfg.probingMethod) probes (no SIP transport loaded, e.g. socket = udp:IP:port and proto_udp.so, or a bad address '\(ruri)'): gateway states are not changed by probing")
                }
            }
        }
    }

    /// A probe's final reply code (core thread).
    func probeReply(_ gw: Gateway, code: Int, cfg: DRConfig) {
        host.log(.dbg, "probe of gateway \(gw.id) (\(gw.ipStr)): \(code)")
        if code == 200 || cfg.probingReplyCodes.contains(code) {
            // Re-enable, unless disabled by MI meanwhile.
            changeGWState(gw) { b in b & StateCell.byMI != 0 ? b : b & ~StateCell.disabled }
        } else if code >= 400 {
            changeGWState(gw) { b in b | StateCell.disabled }
        }
    }
}
