// swift-tools-version:6.0
// Switchyard: a small core (script engine, module loader, MI) plus plugins loaded with dlopen.
// Plugins depend only on the C ABI header target (and optionally the Swift plugin kit) — never on the core.
import PackageDescription

/// Release builds of the SIP hot path (core, parser, plugin kit, proto_udp, tm, maxfwd, sl) skip the run-time
/// exclusivity checks: swift_beginAccess per access to a class's stored array or dictionary was about 3 % of a stateful
/// relay's instructions. Debug builds, which run the tests, keep the checks and catch violations.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Switchyard",
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        // For third-party plugins: the C header, and the optional Swift conveniences over it.
        .library(name: "SwitchyardABI", targets: ["SwitchyardABI"]),
        .library(name: "SwitchyardPluginKit", targets: ["SwitchyardPluginKit"]),
        // Modules: each its own dynamic library, loaded by `loadmodule`, never linked into the core.
        .library(name: "statistics", type: .dynamic, targets: ["statistics"]),
        .library(name: "json", type: .dynamic, targets: ["json"]),
        .library(name: "cache_local", type: .dynamic, targets: ["cache_local"]),
        .library(name: "db_sqlite", type: .dynamic, targets: ["db_sqlite"]),
        .library(name: "drouting", type: .dynamic, targets: ["drouting"]),
        .library(name: "freeswitch", type: .dynamic, targets: ["freeswitch"]),
        .library(name: "freeswitch_scripting", type: .dynamic, targets: ["freeswitch_scripting"]),
        .library(name: "httpd", type: .dynamic, targets: ["httpd"]),
        .library(name: "mi_http", type: .dynamic, targets: ["mi_http"]),
        .library(name: "prometheus", type: .dynamic, targets: ["prometheus"]),
        .executable(name: "esl-simulator", targets: ["esl-simulator"]),
        .library(name: "mi_fifo", type: .dynamic, targets: ["mi_fifo"]),
        .library(name: "mi_datagram", type: .dynamic, targets: ["mi_datagram"]),
        .library(name: "proto_udp", type: .dynamic, targets: ["proto_udp"]),
        .library(name: "proto_tcp", type: .dynamic, targets: ["proto_tcp"]),
        .library(name: "sl", type: .dynamic, targets: ["sl"]),
        .library(name: "maxfwd", type: .dynamic, targets: ["maxfwd"]),
        .library(name: "rr", type: .dynamic, targets: ["rr"]),
        .library(name: "db_mysql", type: .dynamic, targets: ["db_mysql"]),
        .library(name: "db_postgres", type: .dynamic, targets: ["db_postgres"]),
        .library(name: "cachedb_redis", type: .dynamic, targets: ["cachedb_redis"]),
        .library(name: "tm", type: .dynamic, targets: ["tm"]),
        .library(name: "dispatcher", type: .dynamic, targets: ["dispatcher"]),
        .library(name: "sipmsgops", type: .dynamic, targets: ["sipmsgops"]),
        .library(name: "signaling", type: .dynamic, targets: ["signaling"]),
        .library(name: "textops", type: .dynamic, targets: ["textops"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The published C ABI: header only (plus an empty .c so SwiftPM can build it). libc only.
        .target(name: "SwitchyardABI", path: "Sources/SwitchyardABI"),
        // JSON values, a non-recursive parser and a serializer; no global state (plugins may link it).
        .target(name: "SwitchyardJSON", path: "Sources/SwitchyardJSON"),
        // Transport-agnostic Management Interface: JSON-RPC 2.0 dispatch, command registry, statistics.
        .target(name: "SwitchyardMI", dependencies: ["SwitchyardJSON"], path: "Sources/SwitchyardMI"),
        // The SIP message parser: stateless, no Foundation (it is also the fuzz target, see Fuzz/).
        .target(name: "SwitchyardSIP", path: "Sources/SwitchyardSIP", swiftSettings: hotPath),
        // The core: config parser, script engine, module loader, host table, runtime.
        .target(
            name: "SwitchyardCore",
            dependencies: [
                "SwitchyardABI", "SwitchyardMI", "SwitchyardSIP", "CThreadStack", "CResolv",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/SwitchyardCore",
            // Release builds skip the run-time exclusivity checks (swift_beginAccess on every script-state access
            // was ~15 % of a route's time); debug builds, which run the tests, keep them and catch violations.
            swiftSettings: hotPath
        ),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "SwitchyardCore", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/switchyard"
        ),
        // Thin Swift conveniences over the C tables for plugins written in Swift. No global state.
        .target(name: "SwitchyardPluginKit", dependencies: ["SwitchyardABI"], path: "Sources/SwitchyardPluginKit"),
        .target(name: "statistics", dependencies: ["SwitchyardPluginKit"], path: "Plugins/statistics", exclude: ["README.md"]),
        .target(name: "json", dependencies: ["SwitchyardPluginKit", "SwitchyardJSON"], path: "Plugins/json", exclude: ["README.md"]),
        .target(name: "cache_local", dependencies: ["SwitchyardPluginKit"], path: "Plugins/cache_local", exclude: ["README.md"]),
        // The system libsqlite3 (Debian: libsqlite3-dev), linked only into the driver plugin.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "db_sqlite", dependencies: ["SwitchyardPluginKit", "CSQLite"], path: "Plugins/db_sqlite", exclude: ["README.md"]),
        .target(name: "drouting", dependencies: ["SwitchyardPluginKit"], path: "Plugins/drouting", exclude: ["README.md", "schema"]),
        // FreeSWITCH Event Socket: a stateless frame codec shared by the connection manager and the simulator.
        .target(name: "SwitchyardESL", path: "Sources/SwitchyardESL"),
        .executableTarget(name: "esl-simulator", dependencies: ["SwitchyardESL"], path: "Sources/esl-simulator", exclude: ["README.md"]),
        .target(name: "freeswitch", dependencies: ["SwitchyardPluginKit", "SwitchyardESL", "SwitchyardJSON", "CEpoll"], path: "Plugins/freeswitch", exclude: ["README.md"]),
        .target(name: "freeswitch_scripting", dependencies: ["SwitchyardPluginKit", "SwitchyardESL"], path: "Plugins/freeswitch_scripting", exclude: ["README.md", "schema"]),
        // The system libmicrohttpd (Debian: libmicrohttpd-dev), linked only into the httpd plugin.
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD", providers: [.apt(["libmicrohttpd-dev"])]),
        .target(name: "httpd", dependencies: ["SwitchyardPluginKit", "CMicroHTTPD"], path: "Plugins/httpd", exclude: ["README.md"]),
        .target(name: "mi_http", dependencies: ["SwitchyardPluginKit"], path: "Plugins/mi_http", exclude: ["README.md"]),
        .target(name: "prometheus", dependencies: ["SwitchyardPluginKit", "SwitchyardJSON"], path: "Plugins/prometheus", exclude: ["README.md"]),
        .target(name: "mi_fifo", dependencies: ["SwitchyardPluginKit", "SwitchyardJSON"], path: "Plugins/mi_fifo", exclude: ["README.md"]),
        .target(name: "mi_datagram", dependencies: ["SwitchyardPluginKit", "SwitchyardJSON"], path: "Plugins/mi_datagram", exclude: ["README.md"]),
        // SIP transports and stateless SIP helpers. Transports own sockets; the core does the SIP work.
        .target(name: "proto_udp", dependencies: ["SwitchyardPluginKit", "CUDPBatch"], path: "Plugins/proto_udp", exclude: ["README.md"],
                swiftSettings: hotPath),
        .target(name: "CUDPBatch", path: "Sources/CUDPBatch"),
        .target(name: "CThreadStack", path: "Sources/CThreadStack"),
        // glibc's mallopt for the executable (one malloc arena, set at start-up).
        .target(name: "CMalloc", path: "Sources/CMalloc"),
        // The system resolver's SRV/NAPTR queries for the core (glibc's libresolv, a system library like libc).
        .target(name: "CResolv", path: "Sources/CResolv", linkerSettings: [.linkedLibrary("resolv")]),
        .target(name: "CEpoll", path: "Sources/CEpoll"),
        .target(name: "proto_tcp", dependencies: ["SwitchyardPluginKit", "SwitchyardSIP", "CEpoll"], path: "Plugins/proto_tcp", exclude: ["README.md"]),
        .target(name: "sl", dependencies: ["SwitchyardPluginKit"], path: "Plugins/sl", exclude: ["README.md"],
                swiftSettings: hotPath),
        .target(name: "maxfwd", dependencies: ["SwitchyardPluginKit"], path: "Plugins/maxfwd", exclude: ["README.md"],
                swiftSettings: hotPath),
        .target(name: "rr", dependencies: ["SwitchyardPluginKit"], path: "Plugins/rr", exclude: ["README.md"]),
        // Message tests and edits (is_method, append_hf ...), and send_reply (through tm when there is a transaction).
        .target(name: "sipmsgops", dependencies: ["SwitchyardPluginKit"], path: "Plugins/sipmsgops", exclude: ["README.md"]),
        .target(name: "signaling", dependencies: ["SwitchyardPluginKit"], path: "Plugins/signaling", exclude: ["README.md"]),
        // Regular-expression searches and rewrites of the message (search, replace, subst ...).
        .target(name: "textops", dependencies: ["SwitchyardPluginKit"], path: "Plugins/textops", exclude: ["README.md"]),
        // Server database drivers: the client libraries (Debian: libmariadb-dev, libpq-dev, libhiredis-dev), each linked
        // only into its plugin; SwitchyardSQL is what the two SQL drivers share (URLs, SQL text, pooling, the C table).
        .systemLibrary(name: "CMariaDB", path: "Sources/CMariaDB", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "SwitchyardSQL", dependencies: ["SwitchyardPluginKit"], path: "Sources/SwitchyardSQL"),
        .target(name: "db_mysql", dependencies: ["SwitchyardPluginKit", "SwitchyardSQL", "CMariaDB"], path: "Plugins/db_mysql",
                exclude: ["README.md"]),
        .target(name: "db_postgres", dependencies: ["SwitchyardPluginKit", "SwitchyardSQL", "CPostgres"], path: "Plugins/db_postgres",
                exclude: ["README.md"]),
        .target(name: "cachedb_redis", dependencies: ["SwitchyardPluginKit", "CHiredis"], path: "Plugins/cachedb_redis",
                exclude: ["README.md"]),
        // Transactions: links the (stateless) SIP parser to build CANCEL/ACK from the branch requests it keeps.
        // tm: the Via branch parameter's reader is a small pure library (no ABI) that the plugin links and the tests call.
        .target(name: "TMBranch", path: "Plugins/tm/Branch", swiftSettings: hotPath),
        .target(name: "tm", dependencies: ["SwitchyardPluginKit", "SwitchyardSIP", "TMBranch"], path: "Plugins/tm",
                exclude: ["README.md", "Branch"], swiftSettings: hotPath),
        // dispatcher: its selection rules are a small pure library (no ABI) that the plugin links and the tests call.
        .target(name: "DispatcherSelection", path: "Plugins/dispatcher/Selection"),
        .target(name: "dispatcher", dependencies: ["SwitchyardPluginKit", "DispatcherSelection"], path: "Plugins/dispatcher",
                exclude: ["README.md", "schema", "Selection"]),
        .executableTarget(
            name: "switchyard-bench",
            dependencies: ["SwitchyardCore", "SwitchyardJSON"],
            path: "Benchmarks/switchyard-bench"
        ),
        .testTarget(name: "SwitchyardSIPTests", dependencies: ["SwitchyardSIP"], path: "Tests/SwitchyardSIPTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "httpdTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/httpdTests"),
        .testTarget(name: "prometheusTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/prometheusTests"),
        .testTarget(name: "dispatcherTests", dependencies: ["SwitchyardCore", "SwitchyardMI", "SwitchyardJSON", "DispatcherSelection", "SwitchyardTestSupport"],
                    path: "Tests/dispatcherTests"),
        .testTarget(name: "SwitchyardMITests", dependencies: ["SwitchyardMI"], path: "Tests/SwitchyardMITests"),
        // Writing a plugin from outside: the C example built against installed headers, a Swift plugin package
        // built in a temporary folder; both run in the real switchyard binary (no dependency on the core).
        .testTarget(name: "PluginAuthoringTests", path: "Tests/PluginAuthoringTests"),
        // The core: config parser and diagnostics, interpreter, module loader and host table, runtime.
        .testTarget(
            name: "SwitchyardCoreTests",
            dependencies: ["SwitchyardCore", "SwitchyardTestSupport", "SwitchyardPluginKit"],
            path: "Tests/SwitchyardCoreTests",
            resources: [.copy("Fixtures")]
        ),
        // The libraries, each on its own.
        .testTarget(name: "SwitchyardJSONTests", dependencies: ["SwitchyardJSON"], path: "Tests/SwitchyardJSONTests"),
        .testTarget(name: "SwitchyardESLTests", dependencies: ["SwitchyardESL", "SwitchyardTestSupport"], path: "Tests/SwitchyardESLTests",
                    resources: [.copy("Fixtures")]),
        // One target per module, each loading its plugin of this build in an in-process server.
        .testTarget(name: "statisticsTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/statisticsTests"),
        .testTarget(name: "jsonTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/jsonTests",
                    exclude: ["Fixtures"]),
        .testTarget(name: "cache_localTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/cache_localTests"),
        .testTarget(name: "db_sqliteTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/db_sqliteTests"),
        .testTarget(name: "droutingTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/droutingTests"),
        // freeswitch and freeswitch_scripting are always loaded together (the connections, and the script API on them).
        .testTarget(name: "freeswitchTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/freeswitchTests"),
        .testTarget(name: "mi_httpTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/mi_httpTests"),
        .testTarget(name: "mi_fifoTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/mi_fifoTests"),
        .testTarget(name: "mi_datagramTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/mi_datagramTests"),
        // The switchyard executable end to end: command line, SIP calls with sipp, the DTMF-transfer example.
        .testTarget(name: "EndToEndTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/EndToEndTests"),
        // The server backends, each against a private server .ci/servers.sh starts (URLs in SY_TEST_* variables).
        .target(name: "SwitchyardTestSupport", dependencies: ["SwitchyardCore"], path: "Tests/SwitchyardTestSupport"),
        .testTarget(name: "SwitchyardSQLTests", dependencies: ["SwitchyardSQL"], path: "Tests/SwitchyardSQLTests"),
        .testTarget(name: "db_mysqlTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/db_mysqlTests"),
        .testTarget(name: "db_postgresTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/db_postgresTests"),
        .testTarget(name: "cachedb_redisTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/cachedb_redisTests"),
        // tm end to end: the switchyard binary with tm.so between sipp callers and callees (scenarios in Tests/SIP/tm).
        .testTarget(name: "tmTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport", "TMBranch"], path: "Tests/tmTests"),
        // sipmsgops and signaling end to end: switchyard between sipp peers (scenarios in Tests/SIP/sipmsgops).
        .testTarget(name: "sipmsgopsTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/sipmsgopsTests"),
        .testTarget(name: "signalingTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/signalingTests"),
        // textops (and sipmsgops's SDP and status rewrites) end to end: switchyard between sipp peers.
        .testTarget(name: "textopsTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/textopsTests"),
        // proto_udp: the UDP workers' scheduling policy (the relay itself is covered by EndToEndTests' SIP suites).
        .testTarget(name: "proto_udpTests", dependencies: ["SwitchyardCore", "SwitchyardTestSupport"], path: "Tests/proto_udpTests"),
    ]
)
