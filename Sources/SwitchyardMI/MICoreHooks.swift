import Foundation

/// One row of `ps` / `log_level`.
public struct MIProcessInfo: Sendable, Equatable {
    /// Internal process/worker number (`ID`).
    public var id: Int
    /// What `PID` shows, and what `log_level`'s `pid` parameter selects.
    public var pid: Int
    /// Description such as "attendant", "UDP receiver".
    public var type: String
    public var logLevel: Int

    public init(id: Int, pid: Int, type: String, logLevel: Int) {
        self.id = id
        self.pid = pid
        self.type = type
        self.logLevel = logLevel
    }
}

/// One row of `list_modules`.
public struct MIModuleInfo: Sendable, Equatable {
    public var name: String
    public var version: String
    /// The plugin ABI version, e.g. "1.1".
    public var abi: String
    public var path: String

    public init(name: String, version: String, abi: String, path: String) {
        self.name = name
        self.version = version
        self.abi = abi
        self.path = path
    }
}

/// What the core MI commands need from the server. The MI library knows nothing about processes,
/// logging or modules; the server supplies these facts and actions as closures (called on MI
/// transport threads, so they must be thread-safe).
public struct MICoreHooks: Sendable {
    /// `version`'s `Server` value, built by the caller, e.g. "Switchyard (0.1.0 (x86_64/linux))".
    public var serverVersion: String
    /// Source revision for `version revision`; shown under the `scmType` key.
    public var revision: String?
    public var scmType: String
    public var startTime: Date
    /// The clock; replaceable for tests.
    public var now: @Sendable () -> Date
    public var processes: @Sendable () -> [MIProcessInfo]
    /// Sets the global log level (`pid` nil) or one process's; returns false for an unknown pid.
    public var setLogLevel: @Sendable (_ level: Int, _ pid: Int?) -> Bool
    /// Starts shutdown. Called before the `"OK"` reply is sent: defer the real exit briefly so the
    /// reply can still go out (OpenSIPS loses it in the race; we need not).
    public var kill: @Sendable () -> Void
    public var modules: @Sendable () -> [MIModuleInfo]
    public var workingDirectory: @Sendable () -> String
    public var argv: [String]

    public init(
        serverVersion: String,
        revision: String? = nil,
        scmType: String = "git",
        startTime: Date = Date(),
        now: @escaping @Sendable () -> Date = { Date() },
        processes: @escaping @Sendable () -> [MIProcessInfo] = { [] },
        setLogLevel: @escaping @Sendable (_ level: Int, _ pid: Int?) -> Bool = { _, pid in pid == nil },
        kill: @escaping @Sendable () -> Void = {},
        modules: @escaping @Sendable () -> [MIModuleInfo] = { [] },
        workingDirectory: @escaping @Sendable () -> String = { FileManager.default.currentDirectoryPath },
        argv: [String] = CommandLine.arguments
    ) {
        self.serverVersion = serverVersion
        self.revision = revision
        self.scmType = scmType
        self.startTime = startTime
        self.now = now
        self.processes = processes
        self.setLogLevel = setLogLevel
        self.kill = kill
        self.modules = modules
        self.workingDirectory = workingDirectory
        self.argv = argv
    }
}
