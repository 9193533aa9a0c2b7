#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct SimulatorError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct SimulatorOptions: Sendable {
    var host = "127.0.0.1"
    var port = 8021
    var controlPort: Int? = nil
    var password = "ClueCon"
    var heartbeat: Double = 20
    var idleCPU = 99.633333
    var sessionCount: Int? = nil
    var maxSessions = 100
    var sessionsPerSecond = 30
    var hostname = "switchyard-sim"
    var coreUUID = "36b533d6-af02-46cc-92af-62d0828faf9d"
    var stdinControl = true
    var verbose = false
    var help = false

    static let usage = """
    usage: esl-simulator [options]
      --host ADDR            listen address (default 127.0.0.1)
      --port N               ESL port (default 8021; 0 = pick a free port, printed at start)
      --control-port N       line-based control channel on TCP (0 = pick a free port)
      --password PW          password for auth/userauth (default ClueCon)
      --heartbeat SECS       HEARTBEAT interval, fractions allowed; 0 = off (default 20)
      --idle-cpu F           Idle-CPU figure in HEARTBEAT (default 99.633333)
      --session-count N      Session-Count in HEARTBEAT (default: number of active calls)
      --max-sessions N       Max-Sessions (default 100)
      --sessions-per-second N  Session-Per-Sec (default 30)
      --hostname NAME        FreeSWITCH-Hostname / -Switchname
      --core-uuid UUID       Core-UUID
      --no-stdin             do not read control commands from stdin
      --verbose              log every command to stdout
    """

    static func parse(_ args: [String]) throws -> SimulatorOptions {
        var o = SimulatorOptions()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw SimulatorError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func int() throws -> Int {
            let v = try value()
            guard let n = Int(v), n >= 0 else { throw SimulatorError("\(args[i - 1]): bad number \(v)") }
            return n
        }
        func double() throws -> Double {
            let v = try value()
            guard let n = Double(v), n >= 0 else { throw SimulatorError("\(args[i - 1]): bad number \(v)") }
            return n
        }
        while i < args.count {
            var a = args[i]
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {  // --port=8021
                let v = String(a[a.index(after: eq)...])
                a = String(a[..<eq])
                return try parse(Array(args[..<i]) + [a, v] + Array(args[(i + 1)...]))
            }
            switch a {
            case "--host": o.host = try value()
            case "--port", "-p": o.port = try int()
            case "--control-port": o.controlPort = try int()
            case "--password": o.password = try value()
            case "--heartbeat": o.heartbeat = try double()
            case "--idle-cpu": o.idleCPU = try double()
            case "--session-count": o.sessionCount = try int()
            case "--max-sessions": o.maxSessions = try int()
            case "--sessions-per-second": o.sessionsPerSecond = try int()
            case "--hostname": o.hostname = try value()
            case "--core-uuid": o.coreUUID = try value()
            case "--no-stdin": o.stdinControl = false
            case "--verbose", "-v": o.verbose = true
            case "--help", "-h": o.help = true
            default: throw SimulatorError("unknown option \(a)")
            }
            i += 1
        }
        return o
    }
}
