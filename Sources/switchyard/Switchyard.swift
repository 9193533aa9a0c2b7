import ArgumentParser
import CMalloc
import Foundation
import SwitchyardCore
import SwitchyardABI

/// The `switchyard` command, in the spirit of OpenSIPS's options.
@main
struct SwitchyardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "A modular SIP/FreeSWITCH signalling server that runs OpenSIPS-style scripts."
    )

    @Option(name: .short, help: "Configuration file ('-' reads standard input).")
    var f: String = "modules.conf"

    @Flag(name: .short, help: "Check the configuration fully (parse, load modules, modparams, fixups) and exit 0/1.")
    var c = false

    @Flag(name: .customLong("syntax-only"), help: "Parse the file without loading modules; list each construct Switchyard does not support.")
    var syntaxOnly = false

    @Flag(name: .customShort("V"), help: "Print version and ABI version, then exit.")
    var version = false

    @Flag(name: .customShort("D"), help: "Debug mode: stay in the foreground, log level DBG.")
    var debugMode = false

    @Flag(name: .customShort("F"), help: "Stay in the foreground (Switchyard never daemonizes; accepted for OpenSIPS compatibility).")
    var foreground = false

    @Option(name: .short, help: "Log level: a number (-3..4) or ERR, WARN, NOTICE, INFO, DBG.")
    var l: String?

    @Option(name: .short, help: "Number of script workers (overrides udp_workers).")
    var n: Int?

    @Option(name: .short, help: "A script option 'name=value', read with $argv(name); may be repeated.")
    var o: [String] = []

    mutating func run() throws {
        // One malloc arena (brk, grown 128 kB at a time) instead of one per thread: a thread's own arena grows its heap
        // a page per mprotect call, and tm's WAIT table (5 s of transactions) filling made ~0.6 mprotect per stateful
        // call, 1.9 % of the proxy's CPU at 1,500 calls/s. Set before any worker thread exists.
        _ = cmalloc_one_arena()
        if version {
            print("version: switchyard \(Server.version) (\(Server.arch)/linux)")
            print("abi: \(Server.abiVersion) (plugins built for \(SY_ABI_MAJOR).0 to \(Server.abiVersion) load)")
            return
        }
        var level: Int? = nil
        if let l {
            guard let v = LogLevels.parse(l) else { throw ValidationError("unknown log level '\(l)'") }
            level = v
        }
        if debugMode { level = level ?? LogLevels.debug }

        let path = f
        let diagnostics = DiagnosticBag()
        let ast: ScriptAST
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            ast = Parser.parse(text: String(decoding: data, as: UTF8.self), path: "<stdin>", diagnostics: diagnostics)
        } else {
            ast = Parser.parse(path: path, diagnostics: diagnostics)
        }
        if syntaxOnly {
            let report = SyntaxReport.make(ast: ast, diagnostics: diagnostics)
            print(report.text)
            throw ExitCode(report.ok ? 0 : 1)
        }
        let server = Server(configPath: path)
        server.engine.argv = Self.scriptOptions(o)
        do {
            try server.prepare(ast: ast, checkOnly: c, logLevelOverride: level, workersOverride: n, parseErrors: diagnostics.errors)
        } catch {
            Self.report(error.diagnostics)
            throw ExitCode(1)
        }
        if c {
            FileHandle.standardError.write(Data((server.checkReport + "config file ok, exiting...\n").utf8))
            return
        }
        SignalWatcher.install { server.requestStop() }
        do {
            try server.start()
        } catch {
            Self.report(error.diagnostics)
            server.stop()
            throw ExitCode(1)
        }
        server.waitForStop()
        server.stop()
    }

    /// `-o name=value` options: an option without '=' or without a name is reported and skipped, and a repeated
    /// name keeps its first value, as OpenSIPS does.
    static func scriptOptions(_ options: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for opt in options {
            guard let eq = opt.firstIndex(of: "=") else {
                FileHandle.standardError.write(Data("ERROR: -o \(opt): invalid option format - '=' char cannot be found\n".utf8))
                continue
            }
            let name = String(opt[..<eq])
            guard !name.isEmpty else {
                FileHandle.standardError.write(Data("ERROR: -o \(opt): no option name specified\n".utf8))
                continue
            }
            if out[name] != nil {
                FileHandle.standardError.write(Data("ERROR: duplicate option name \(name)\nERROR: cannot add option \(opt)\n".utf8))
                continue
            }
            out[name] = String(opt[opt.index(after: eq)...])
        }
        return out
    }

    static func report(_ diags: [Diagnostic]) {
        // In file order, then line order: the lexer, parser and resolver each add their own.
        var fileOrder: [String: Int] = [:]
        for d in diags { if let p = d.location?.file.path, fileOrder[p] == nil { fileOrder[p] = fileOrder.count } }
        let sorted = diags.enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            let ka = (fileOrder[la?.file.path ?? ""] ?? Int.max, la?.line ?? Int.max, la?.column ?? 0, a.offset)
            let kb = (fileOrder[lb?.file.path ?? ""] ?? Int.max, lb?.line ?? Int.max, lb?.column ?? 0, b.offset)
            return ka < kb
        }.map(\.element)
        var text = sorted.map(\.description).joined(separator: "\n")
        text += "\n\(diags.count) error\(diags.count == 1 ? "" : "s"); not starting\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

}

/// SIGTERM/SIGINT ask the server to stop cleanly; SIGHUP/SIGUSR1/SIGUSR2/SIGPIPE are ignored.
enum SignalWatcher {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []  // kept alive for the process; set once at startup

    static func install(_ onStop: @escaping @Sendable () -> Void) {
        for s in [SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE] { signal(s, SIG_IGN) }
        for s in [SIGTERM, SIGINT] {
            signal(s, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: s, queue: .global())
            src.setEventHandler(handler: onStop)
            src.resume()
            sources.append(src)
        }
    }
}
