import Foundation

/// Runs timer_route blocks and plugin timers on one timer thread (OpenSIPS runs them in its
/// timer process). Timer routes have their own variable storage; the first run is after one interval.
public final class TimerService: @unchecked Sendable {
    // Entries are guarded by `lock`; the thread body only reads copies.
    final class Entry: @unchecked Sendable {
        let id: Int
        let name: String
        let interval: TimeInterval
        var next: Date
        let action: @Sendable () -> Void
        var cancelled = false
        init(id: Int, name: String, interval: TimeInterval, action: @escaping @Sendable () -> Void) {
            self.id = id
            self.name = name
            self.interval = interval
            self.next = Date().addingTimeInterval(interval)
            self.action = action
        }
    }

    private let lock = NSCondition()
    private var entries: [Entry] = []
    private var nextID = 1
    private var stopped = false
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    public init() {}

    @discardableResult
    public func add(name: String, interval: TimeInterval, action: @escaping @Sendable () -> Void) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let e = Entry(id: nextID, name: name, interval: max(0.001, interval), action: action)
        nextID += 1
        entries.append(e)
        lock.signal()
        return e.id
    }

    /// The names of the timers registered now (MI and tests).
    var names: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries.map(\.name)
    }

    public func remove(_ id: Int) {
        lock.lock()
        entries.removeAll { $0.id == id }
        lock.unlock()
    }

    public func start() {
        let t = Thread { [self] in
            self.loop()
            self.done.signal()
        }
        t.name = "timer"
        thread = t
        t.start()
    }

    public func stop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
        if thread != nil { _ = done.wait(timeout: .now() + 5) }
    }

    private func loop() {
        while true {
            lock.lock()
            if stopped { lock.unlock(); return }
            let now = Date()
            let due = entries.filter { $0.next <= now }
            for e in due {
                // Keep a steady cadence; skip missed ticks instead of bursting.
                e.next = e.next.addingTimeInterval(e.interval)
                if e.next <= now { e.next = now.addingTimeInterval(e.interval) }
            }
            if due.isEmpty {
                let wake = entries.map(\.next).min() ?? now.addingTimeInterval(3600)
                _ = lock.wait(until: wake)
                lock.unlock()
                continue
            }
            lock.unlock()
            for e in due { e.action() }
        }
    }
}
