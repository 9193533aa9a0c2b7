import Synchronization

/// One statistic: a counter updated atomically from any thread, or a function computed on read.
///
/// Hold on to the handle returned by `StatsRegistry.register` and update it directly: that is a
/// single relaxed atomic add, with no lookup and no lock (OpenSIPS `update_stat`).
public final class Stat: Sendable {
    /// Same bit values as OpenSIPS `STAT_*` flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// `reset_statistics` leaves it alone (gauges such as `shmem:used_size`).
        public static let noReset = Flags(rawValue: 1)
        /// Value computed by a closure on read; set automatically for function stats.
        public static let isFunction = Flags(rawValue: 8)
        /// Not listed by `all` or `group:`; still readable by its name.
        public static let hidden = Flags(rawValue: 32)
    }

    public let group: String
    public let name: String
    public let flags: Flags
    private let counter = Atomic<Int64>(0)
    private let function: (@Sendable () -> Int64)?

    init(group: String, name: String, flags: Flags, function: (@Sendable () -> Int64)?) {
        self.group = group
        self.name = name
        self.flags = function == nil ? flags.subtracting(.isFunction) : flags.union(.isFunction)
        self.function = function
    }

    /// `group:name`, the key used in MI output.
    public var qualifiedName: String { "\(group):\(name)" }

    /// Incremental stats are plain counters that can be reset; the others are gauges/functions.
    public var isIncremental: Bool { flags.isDisjoint(with: [.noReset, .isFunction]) }

    public var value: Int64 { function?() ?? counter.load(ordering: .relaxed) }

    /// Adds `delta` (may be negative); ignored for function stats.
    public func update(_ delta: Int64) { counter.wrappingAdd(delta, ordering: .relaxed) }

    public func increment() { update(1) }

    /// Sets a gauge; ignored for function stats.
    public func set(_ newValue: Int64) { counter.store(newValue, ordering: .relaxed) }

    /// Back to zero, unless `noReset` or a function stat (OpenSIPS `reset_stat`).
    public func reset() {
        guard isIncremental else { return }
        counter.store(0, ordering: .relaxed)
    }
}
