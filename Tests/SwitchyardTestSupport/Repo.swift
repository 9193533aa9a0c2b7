// Paths in the source tree, found from this file's location (Tests/SwitchyardTestSupport/Repo.swift).
import Foundation

public enum Repo {
    /// The repository root.
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The ABI headers plugins are built against.
    public static var header: String { root.appendingPathComponent("Sources/SwitchyardABI/include").path }
    /// A sipp scenario of Tests/SIP.
    public static func sipScenario(_ name: String) -> String { root.appendingPathComponent("Tests/SIP").appendingPathComponent(name).path }
}
