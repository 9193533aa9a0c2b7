import Foundation
import Synchronization

/// `core:events_per_sec`: events raised per second, averaged over the time since the previous reading that was at
/// least a second ago (a scrape every 15 s sees the 15-second average). Computed when read; no timer.
final class EventRate: Sendable {
    private let state = Mutex<(count: Int, at: UInt64, rate: Int64)>((0, DispatchTime.now().uptimeNanoseconds, 0))

    func read(raised: Int) -> Int64 {
        state.withLock { s in
            let now = DispatchTime.now().uptimeNanoseconds
            let dt = now &- s.at
            if dt >= 1_000_000_000 {
                s.rate = Int64((Double(raised - s.count) * 1e9 / Double(dt)).rounded())
                s = (raised, now, s.rate)
            }
            return s.rate
        }
    }
}
