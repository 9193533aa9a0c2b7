// Subscriptions of a box: who wants which events, the `event json` / `nixevent` commands that keep FreeSWITCH's
// list in step, and the per-event-name match cache of the reader.
import SwitchyardABI
import SwitchyardESL
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One subscription (the C `sy_fs_sub`).
final class Subscription: @unchecked Sendable { // immutable after init except the atomics
    /// How the subscriber takes an event: as JSON text (subscribe), or as a value (subscribe_value, API 1.3).
    enum Callback {
        case text(sy_fs_event_fn)
        case value(sy_fs_event_value_fn)
    }

    let box: Box
    let keys: [String]
    let cb: Callback
    let user: UnsafeMutableRawPointer?
    let dead = Atomic<Bool>(false)
    let running = Atomic<Int>(0)

    init(box: Box, keys: [String], cb: Callback, user: UnsafeMutableRawPointer?) {
        self.box = box
        self.keys = keys
        self.cb = cb
        self.user = user
    }

    /// The callback's identity: one delivery per (callback, user); a text and a value callback never match.
    var cbBits: UInt {
        switch cb {
        case .text(let f): return UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))
        case .value(let f): return UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self)) ^ 1
        }
    }

    func matches(name: String, subclass: String) -> Bool {
        for k in keys {
            if k == "ALL" { return true }
            if name == "CUSTOM" { if k == "CUSTOM " + subclass { return true } } else if k == name { return true }
        }
        return false
    }
}

/// Normalised subscription key: "DTMF", "ALL", "CUSTOM sofia::register". Nil for an empty name.
func subscriptionKey(_ raw: String) -> String? {
    let t = raw.trimmingCharacters(in: " \t")
    guard !t.isEmpty else { return nil }
    let words = t.split(whereSeparator: { $0 == " " || $0 == "\t" })
    if words.count >= 2, words[0].uppercased() == "CUSTOM" {
        return "CUSTOM " + words[1...].joined(separator: " ")
    }
    return t.uppercased()
}

func subscribeBytes(_ key: String, on: Bool) -> [UInt8] {
    if key.hasPrefix("CUSTOM ") {
        let sub = String(key.dropFirst(7))
        return on ? ESLEncoder.event(.json, names: [], customSubclasses: [sub]) : ESLEncoder.nixevent(names: [], customSubclasses: [sub])
    }
    return on ? ESLEncoder.event(.json, names: [key]) : ESLEncoder.nixevent(names: [key])
}

extension Box {
    func subscribe(_ keys: [String], cb: Subscription.Callback, user: UnsafeMutableRawPointer?) -> Subscription {
        let sub = Subscription(box: self, keys: keys, cb: cb, user: user)
        let woke = state.withLock { s -> Bool in
            s.subs.append(sub)
            subsVersion.add(1, ordering: .releasing)
            var sent = false
            for k in Set(keys) {
                s.wire[k, default: 0] += 1
                if s.wire[k] == 1 && s.phase == .connected { enqueueInternal(&s, k, on: true); sent = true }
            }
            return sent
        }
        if woke { wake() }
        return sub
    }

    func unsubscribe(_ sub: Subscription) {
        sub.dead.store(true, ordering: .releasing)
        state.withLock { s in
            guard let i = s.subs.firstIndex(where: { $0 === sub }) else { return }
            s.subs.remove(at: i)
            subsVersion.add(1, ordering: .releasing)
            for k in Set(sub.keys) {
                guard let n = s.wire[k] else { continue }
                if n <= 1 {
                    s.wire[k] = nil
                    if s.phase == .connected { enqueueInternal(&s, k, on: false) }
                } else {
                    s.wire[k] = n - 1
                }
            }
        }
        lastUse.store(nowMs(), ordering: .relaxed)
        wake() // sends the nixevent; a box left without subscribers may be reaped
        // When this returns the callback is not running for `sub` (no wait from inside a callback: it is running there).
        if reader.isCurrentThread { return }
        let end = nowMs() + 10_000
        while sub.running.load(ordering: .acquiring) > 0 && nowMs() < end { usleep(1000) }
    }

    /// Matching subscribers, each (cb, user) once. Cached per event name (`cache`, under the reader's lock) until a
    /// subscription changes (`subsVersion`): the state lock is not taken per event. A cached subscriber that was
    /// removed since is skipped at delivery (`dead`).
    func matchingSubscribers(name: String, subclass: String, cache: inout SubscriberCache) -> [Subscription] {
        let v = subsVersion.load(ordering: .acquiring)
        if v != cache.version { cache.entries.removeAll(keepingCapacity: true); cache.version = v }
        let key = subclass.isEmpty ? name : name + "\u{0}" + subclass
        if let hit = cache.entries[key] { return hit }
        let out = state.withLock { s -> [Subscription] in
            var out: [Subscription] = []
            for sub in s.subs where sub.matches(name: name, subclass: subclass) {
                if !out.contains(where: { $0.cbBits == sub.cbBits && $0.user == sub.user }) { out.append(sub) }
            }
            return out
        }
        if cache.entries.count < 1024 { cache.entries[key] = out }
        return out
    }
}

/// The subscribers of each event name seen, valid for one `subsVersion`.
struct SubscriberCache {
    var entries: [String: [Subscription]] = [:]
    var version = -1
}
