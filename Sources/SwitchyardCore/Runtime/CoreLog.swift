import Foundation
import Logging
import Synchronization

/// OpenSIPS log levels and their names.
public enum LogLevels {
    public static let alert = -3, crit = -2, error = -1, warn = 1, notice = 2, info = 3, debug = 4

    public static func name(_ level: Int) -> String {
        switch level {
        case ...(-3): return "ALERT"
        case -2: return "CRITICAL"
        case -1: return "ERROR"
        case 0, 1: return "WARNING"
        case 2: return "NOTICE"
        case 3: return "INFO"
        default: return "DBG"
        }
    }

    /// `L_ERR`, `L_INFO`...: matched on the third character, as OpenSIPS does.
    public static func parseXlogLevel(_ s: String) -> Int? {
        let chars = Array(s.uppercased())
        guard chars.count >= 3, chars[0] == "L", chars[1] == "_" else { return nil }
        switch chars[2] {
        case "A": return alert
        case "C": return crit
        case "E": return error
        case "W": return warn
        case "N": return notice
        case "I": return info
        case "D": return debug
        default: return nil
        }
    }

    /// Names accepted by `-l`: numbers or ERR/WARN/NOTICE/INFO/DBG.
    public static func parse(_ s: String) -> Int? {
        if let n = Int(s) { return n }
        switch s.uppercased() {
        case "ALERT", "L_ALERT": return alert
        case "CRIT", "CRITICAL", "L_CRIT": return crit
        case "ERR", "ERROR", "L_ERR": return error
        case "WARN", "WARNING", "L_WARN": return warn
        case "NOTICE", "L_NOTICE": return notice
        case "INFO", "L_INFO": return info
        case "DBG", "DEBUG", "L_DBG": return debug
        default: return nil
        }
    }

    static func swiftLevel(_ l: Int) -> Logger.Level {
        switch l {
        case ...(-2): return .critical
        case -1: return .error
        case 0, 1: return .warning
        case 2: return .notice
        case 3: return .info
        default: return .debug
        }
    }
}

/// The server's log: OpenSIPS levels, filtered by a level that MI and `$log_level` change at
/// run time, written through swift-log one line per message as it happens.
public final class CoreLog: Sendable {
    private let levelStorage: Atomic<Int>
    private let xlogLevelStorage: Atomic<Int>
    private let logger: Logger
    private let pid = Int(getpid())

    public init(level: Int = LogLevels.notice, xlogLevel: Int = LogLevels.notice, sink: LogSink = .stderr) {
        levelStorage = Atomic(level)
        xlogLevelStorage = Atomic(xlogLevel)
        var l = Logger(label: "switchyard") { _ in LineLogHandler(sink: sink) }
        l.logLevel = .trace  // filtering is ours, by OpenSIPS level
        logger = l
    }

    public var level: Int {
        get { levelStorage.load(ordering: .relaxed) }
        set { levelStorage.store(newValue, ordering: .relaxed) }
    }

    public var xlogLevel: Int {
        get { xlogLevelStorage.load(ordering: .relaxed) }
        set { xlogLevelStorage.store(newValue, ordering: .relaxed) }
    }

    @inline(__always) public func enabled(_ level: Int) -> Bool { level <= self.level }
    @inline(__always) public func xlogEnabled(_ level: Int) -> Bool { level <= xlogLevel }


    private func stamp() -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%b %e %H:%M:%S", &tmv)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A core or module message: `Nov 23 07:17:21 [pid] ERROR:module: text`.
    public func write(_ level: Int, module: String = "core", _ text: String) {
        guard enabled(level) else { return }
        logger.log(level: LogLevels.swiftLevel(level), "\(stamp()) [\(pid)] \(LogLevels.name(level)):\(module): \(text)")
    }

    /// A script xlog line: `Nov 23 07:17:21 [pid] text` (filtered by xlog_level).
    public func xlog(_ level: Int, _ text: String) {
        // Scripts end xlog formats with "\n" by habit; the line break is ours to add.
        let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
        logger.log(level: LogLevels.swiftLevel(level), "\(stamp()) [\(pid)] \(body)")
    }

    public func error(_ s: String, module: String = "core") { write(LogLevels.error, module: module, s) }
    public func warning(_ s: String, module: String = "core") { write(LogLevels.warn, module: module, s) }
    public func notice(_ s: String, module: String = "core") { write(LogLevels.notice, module: module, s) }
    public func info(_ s: String, module: String = "core") { write(LogLevels.info, module: module, s) }
    public func debug(_ s: String, module: String = "core") { write(LogLevels.debug, module: module, s) }
}

/// Where log lines go: stderr (line by line, unbuffered) or a collector (tests).
public enum LogSink: Sendable {
    case stderr
    case collector(LogCollector)
}

/// Captures lines in memory, for tests that read back what a script logged.
public final class LogCollector: Sendable {
    private let lines = Mutex<[String]>([])
    public init() {}
    public func append(_ s: String) { lines.withLock { $0.append(s) } }
    public var all: [String] { lines.withLock { $0 } }
    /// Lines with the date/pid prefix removed.
    public var messages: [String] {
        all.map { line in
            guard let r = line.range(of: "] ") else { return line }
            return String(line[r.upperBound...])
        }
    }
}

/// swift-log handler writing each message as one line with a single write(2), so lines from
/// several threads never interleave and whoever tails the log sees them at once.
struct LineLogHandler: LogHandler {
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        switch sink {
        case .stderr:
            var line = "\(event.message)\n"
            line.withUTF8 { buf in
                var off = 0
                while off < buf.count {
                    let n = Glibc.write(2, buf.baseAddress! + off, buf.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        case .collector(let c):
            c.append(event.message.description)
        }
    }
}
