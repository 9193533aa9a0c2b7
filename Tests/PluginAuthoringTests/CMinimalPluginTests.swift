import Foundation
import XCTest

/// Examples/c-minimal (the e164 plugin) as a third party builds it: headers installed into a prefix by
/// scripts/install-headers.sh, the source copied out of the repository, one `cc` line with pkg-config, then loaded
/// into a real switchyard process and driven from the script and over MI by opensips-cli.
final class CMinimalPluginTests: XCTestCase {
    static let ccFlags = "-std=c99 -Wall -Wextra -Werror -pedantic -shared -fPIC"

    /// Installs the headers into a temporary prefix and builds e164.so in a folder outside the repository.
    private func buildE164() throws -> (folder: String, prefix: String) {
        let prefix = try temporaryFolder(self, "prefix")
        let install = try command(["sh", Repo.path("scripts/install-headers.sh"), prefix])
        XCTAssertEqual(install.status, 0, install.output)
        for h in ["switchyard.h", "switchyard_db.h", "switchyard_cachedb.h", "switchyard_freeswitch.h"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(prefix)/include/\(h)"), "\(h) not installed")
        }
        let env = ["PKG_CONFIG_PATH": "\(prefix)/lib/pkgconfig"]
        let cflags = try command(["pkg-config", "--cflags", "switchyard-plugin"], env: env)
        XCTAssertEqual(cflags.output.trimmingCharacters(in: .whitespacesAndNewlines), "-I\(prefix)/include")

        let folder = try temporaryFolder(self, "e164")
        try FileManager.default.copyItem(atPath: Repo.path("Examples/c-minimal/e164.c"), toPath: "\(folder)/e164.c")
        // The one line of the docs, nothing else: no -I into the repository.
        let cc = try command(["sh", "-c", "cc \(Self.ccFlags) $(pkg-config --cflags switchyard-plugin) -o e164.so e164.c"], cwd: folder, env: env)
        XCTAssertEqual(cc.status, 0, cc.output)
        XCTAssertEqual(cc.output, "", "zero warnings")
        return (folder, prefix)
    }

    func testBuildsOutsideTheRepositoryWithOneCCLine() throws {
        let (folder, prefix) = try buildE164()
        let source = try String(contentsOfFile: Repo.path("Examples/c-minimal/e164.c"), encoding: .utf8)
        XCTAssertLessThanOrEqual(source.split(separator: "\n", omittingEmptySubsequences: false).count - 1, 60, "at most 60 lines of C")

        let nm = try command(["nm", "-D", "--undefined-only", "\(folder)/e164.so"])
        let needed = nm.output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            .filter { !$0.contains("@GLIBC") && !$0.hasPrefix("_ITM_") && $0 != "__gmon_start__" }
        XCTAssertEqual(needed, [], "libc only, no core symbol")

        // The example's Makefile builds the same way.
        let mk = try temporaryFolder(self, "make")
        for f in ["e164.c", "Makefile"] { try FileManager.default.copyItem(atPath: Repo.path("Examples/c-minimal/\(f)"), toPath: "\(mk)/\(f)") }
        let make = try command(["make", "-s"], cwd: mk, env: ["PKG_CONFIG_PATH": "\(prefix)/lib/pkgconfig"])
        XCTAssertEqual(make.status, 0, make.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(mk)/e164.so"))
    }

    func testScriptAndMIInARealServer() throws {
        let (folder, _) = try buildE164()
        let cli = try opensipsCLI()
        let port = freePort()
        let server = try ServerProcess(config: """
        log_level = 2
        udp_workers = 2
        mpath = "\(folder)"
        mpath = "\(Repo.buildDirectory)"
        loadmodule "httpd.so"
        modparam("httpd", "ip", "127.0.0.1")
        modparam("httpd", "port", \(port))
        loadmodule "mi_http.so"
        loadmodule "e164.so"
        modparam("e164", "default_cc", "44")   # quoted, as 2.x configs write integers
        startup_route {
            $var(i) = 2079460000;                        # an int variable reaches a string parameter as "2079460000"
            e164_normalize("020 7946-0000", $var(a));
            e164_normalize("+1 (212) 555.0100", $var(b));
            e164_normalize("0049 30 1234567", $var(c));
            e164_normalize($var(i), $var(d));
            xlog("L_NOTICE", "e164: [$var(a)] [$var(b)] [$var(c)] [$var(d)]\\n");
            if (!e164_normalize("call me", $var(x))) xlog("L_NOTICE", "e164: refused rc=$rc\\n");
            e164_normalize($var(unset), $var(x));
            xlog("L_NOTICE", "e164: null rc=$rc\\n");
        }
        """, folder: folder)
        defer { server.stop() }
        XCTAssertTrue(server.waitFor("e164: null rc="), server.output)
        let out = server.output
        XCTAssertTrue(out.contains("e164: [+442079460000] [+12125550100] [+49301234567] [+442079460000]"), out)
        XCTAssertTrue(out.contains("e164: refused rc=-1"), out)
        XCTAssertTrue(out.contains("e164: null rc=-1"), out)
        XCTAssertTrue(out.contains("e164_normalize(): $var(unset) is NULL"), "a NULL variable skips the handler with one error line: \(out)")

        let cfg = "\(folder)/cli.cfg"
        try "[default]\ncommunication_type = http\nurl = http://127.0.0.1:\(port)/mi\noutput_type = pretty-print\n".write(toFile: cfg, atomically: true, encoding: .utf8)
        func mi(_ args: [String]) throws -> Any? {
            let r = try command([cli, "-f", cfg, "-x", "mi"] + args, timeout: 30)
            XCTAssertEqual(r.status, 0, r.output)
            return try? JSONSerialization.jsonObject(with: Data(r.output.utf8), options: [.fragmentsAllowed])
        }
        let ok = try mi(["e164_normalize", "number=020 7946 0000"]) as? [String: Any]
        XCTAssertEqual(ok?["number"] as? String, "+442079460000", "\(String(describing: ok))")
        XCTAssertEqual(ok?["valid"] as? Bool, true)
        XCTAssertEqual(ok?["default_cc"] as? Int, 44)
        let bad = try mi(["e164_normalize", "12ab"]) as? [String: Any]   // positional
        XCTAssertEqual(bad?["valid"] as? Bool, false, "\(String(describing: bad))")
        XCTAssertTrue(bad?["number"] is NSNull)
        let stats = try mi(["get_statistics", "e164:"]) as? [String: Any]
        XCTAssertEqual(stats?["e164:invalid"] as? Int, 1, "\(String(describing: stats))")
        XCTAssertEqual(server.stop(), 0, server.output)
    }

    func testBadModparamIsRefusedWithTheSettersReason() throws {
        let (folder, _) = try buildE164()
        let r = try command(["\(Repo.buildDirectory)/switchyard", "-c", "-f", "-"], cwd: folder, timeout: 30,
                        stdin: "mpath = \"\(folder)\"\nloadmodule \"e164.so\"\nmodparam(\"e164\", \"default_cc\", \"1000\")\n")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("module e164, parameter 'default_cc': must be 1..999, got 1000"), r.output)
    }
}
