import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.9 structured values: a C plugin raises an event whose parameter is a tree (Fixtures/plugins/abi_1_9_tree.c) and
/// reads one in its SY_PV_OBJECT setter; the core hands the tree over as is on `$pv := $param(x)`, writes its JSON
/// text only when the script reads it as a string, and refuses a tree deeper than SY_VALUE_MAX_DEPTH; a 1.8-built
/// plugin still loads.
final class TreeValueABITests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func testMemberLayoutIsFrozen() {
        XCTAssertEqual(MemoryLayout<sy_value>.size, 32)
        XCTAssertEqual(MemoryLayout<sy_member>.size, 48)
        XCTAssertEqual(MemoryLayout<sy_member>.offset(of: \sy_member.value), 16)
        XCTAssertEqual(SY_VAL_OBJECT.rawValue, 3)
        XCTAssertEqual(SY_VAL_ARRAY.rawValue, 4)
        XCTAssertEqual(SY_PV_OBJECT.rawValue, 4)
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 9)
    }

    func testACPluginProducesAndReadsATree() throws {
        try PluginBuilder.build("abi_1_9_tree")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_9_tree.so"
        event_route[E_TREE] {
            $tree(a) := $param(ev);
            xlog("TREE $tree(a)");
            $tree(b) := $param(plain);
            xlog("PLAIN $tree(b)");
        }
        event_route[E_DEEP] { xlog("deep event delivered"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("raise rc=0") }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("deep rc=-1") }, h.messages.joined(separator: "\n"))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("PLAIN "), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix(#"TREE members=6 digit=5 n=42 list=2:a,b"c inner.k=v"#) },
                      h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("PLAIN text=x") }, h.messages.joined(separator: "\n"))
        XCTAssertFalse(h.messages.contains { $0.contains("deep event delivered") })
        XCTAssertEqual(h.server.modules.module(named: "abi19tree")?.abiVersion, "1.\(SY_ABI_MINOR)") // built with the current header
        // The tree went to the setter as is: its JSON text was never written.
        XCTAssertEqual(h.server.bus?.treesWritten.load(ordering: .relaxed), 0)
    }

    func testATreeReadAsAStringIsItsJSONTextWrittenOnce() throws {
        try PluginBuilder.build("abi_1_9_tree")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_9_tree.so"
        event_route[E_TREE] {
            $var(t) = $param(ev);
            xlog("TEXT $var(t)");
            xlog("AGAIN $param(ev) $param(2)");
            $tree(a) = $param(ev);
            xlog("ASSIGNED $tree(a)");
        }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("ASSIGNED "), h.messages.joined(separator: "\n"))
        let json = #"{"Event-Name":"DTMF","DTMF-Digit":"5","n":42,"list":["a","b\"c"],"inner":{"k":"v"},"gone":null}"#
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("TEXT " + json) }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("AGAIN " + json + " x") }, h.messages.joined(separator: "\n"))
        // `=` (not `:=`) hands the setter the text, as before 1.9.
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("ASSIGNED text=" + json) }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.bus?.treesWritten.load(ordering: .relaxed), 1)
    }

    func testValueTreeCopiesAndWritesJSON() {
        let keys = ["a", "b\n"]
        let inner = "é\u{1}"
        keys[0].withCString { k0 in keys[1].withCString { k1 in inner.withCString { s in
            var item = sy_value(type: Int32(SY_VAL_STR.rawValue), reserved: 0, i: 0, s: sy_str(s: s, len: inner.utf8.count))
            withUnsafePointer(to: &item) { itemPtr in
                let members = [
                    sy_member(key: sy_str(s: k0, len: 1), value: sy_value(type: Int32(SY_VAL_INT.rawValue), reserved: 0, i: -7,
                                                                        s: sy_str(s: nil, len: 0))),
                    sy_member(key: sy_str(s: k1, len: 2), value: sy_value(type: Int32(SY_VAL_ARRAY.rawValue), reserved: 0, i: 0,
                                                                        s: sy_str(s: UnsafeRawPointer(itemPtr).assumingMemoryBound(to: CChar.self), len: 1))),
                ]
                members.withUnsafeBufferPointer { m in
                    let root = sy_value(type: Int32(SY_VAL_OBJECT.rawValue), reserved: 0, i: 0,
                                        s: sy_str(s: UnsafeRawPointer(m.baseAddress!).assumingMemoryBound(to: CChar.self), len: 2))
                    guard let tree = ValueTree(copying: root) else { return XCTFail("refused") }
                    XCTAssertNotEqual(UnsafeRawPointer(tree.root.s.s), UnsafeRawPointer(m.baseAddress!), "copied, not borrowed")
                    XCTAssertEqual(tree.textWrites.load(ordering: .relaxed), 0)
                    XCTAssertEqual(tree.text, #"{"a":-7,"b\n":["é\u0001"]}"#)
                    XCTAssertEqual(tree.text, #"{"a":-7,"b\n":["é\u0001"]}"#)
                    XCTAssertEqual(tree.textWrites.load(ordering: .relaxed), 1)
                }
            }
        } } }
        XCTAssertNil(ValueTree(copying: sy_value(type: 9, reserved: 0, i: 0, s: sy_str(s: nil, len: 0))))
    }

    /// sy_str: s may be NULL only when len == 0. A string item or a member key with a NULL pointer and a length is
    /// refused (event_raise then returns -1) rather than copied as uninitialised bytes; NULL with len 0 is "".
    func testValueTreeRefusesANullStringWithALength() {
        func array(_ item: sy_value) -> ValueTree? {
            var item = item
            return withUnsafePointer(to: &item) { p in
                ValueTree(copying: sy_value(type: Int32(SY_VAL_ARRAY.rawValue), reserved: 0, i: 0,
                                            s: sy_str(s: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), len: 1)))
            }
        }
        func object(key: sy_str) -> ValueTree? {
            var m = sy_member(key: key, value: sy_value(type: Int32(SY_VAL_INT.rawValue), reserved: 0, i: 1, s: sy_str(s: nil, len: 0)))
            return withUnsafePointer(to: &m) { p in
                ValueTree(copying: sy_value(type: Int32(SY_VAL_OBJECT.rawValue), reserved: 0, i: 0,
                                            s: sy_str(s: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), len: 1)))
            }
        }
        XCTAssertNil(array(sy_value(type: Int32(SY_VAL_STR.rawValue), reserved: 0, i: 0, s: sy_str(s: nil, len: 5))))
        XCTAssertEqual(array(sy_value(type: Int32(SY_VAL_STR.rawValue), reserved: 0, i: 0, s: sy_str(s: nil, len: 0)))?.text, #"[""]"#)
        XCTAssertNil(object(key: sy_str(s: nil, len: 3)))
        XCTAssertEqual(object(key: sy_str(s: nil, len: 0))?.text, #"{"":1}"#)
    }
}
