import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardESL
import SwitchyardTestSupport

/// A worker runs a box's lane (its events one at a time, in order) and its route waits for that same box's reply:
/// the box's reader is blocked on the full lane, which only this worker drains, so nobody else will read the events
/// the box sent before the reply. The worker reads on to its reply (past BoxReader.heldMax) instead of waiting out
/// esl_cmd_timeout, up to BoxReader.heldHardMax; no deadlock, no event lost, the box's order kept.
final class FreeSwitchLaneReplyTests: XCTestCase {
    static let password = "LaneReply-ClueCon"

    /// The box sends 3,000 events before its reply: more than a caller reads ahead (BoxReader.heldMax, 1,024).
    func testAWorkerHoldingItsBoxsLaneReadsPastTheBoundToItsOwnReply() throws {
        let n = 3000
        let (box, h) = try startBurstBeforeReplyOnAWorker(n, cmdTimeoutMS: 30000)
        defer { box.stop() }
        defer { h.stop() }
        // Well inside esl_cmd_timeout (30 s): the reply was read, not waited out.
        XCTAssertTrue(h.waitFor("BURST ok", timeout: 15), h.messages.suffix(5).joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 60) { ran(h).count == n }, "ran \(ran(h).count) of \(n)")
        XCTAssertEqual(ran(h), (0..<n).map(String.init), "the box's events ran once each, in the order sent")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }

    /// More events before the reply than a caller may hold (BoxReader.heldHardMax, 16,384), and beyond them more
    /// bytes than the kernel buffers: the worker stops reading at the cap, so the box's writes stall (TCP pushes back
    /// while a worker reads for its reply, memory stays bounded); its command fails at esl_cmd_timeout, and then every
    /// event runs, in order.
    func testAWorkerHoldingItsBoxsLaneStopsReadingAtTheHardCap() throws {
        // Events of ~2 KB (a channel event's size): the bytes past the cap outgrow the socket buffers in few events.
        let pad = 2000
        let frame = Self.frame(0, pad: pad).count
        let n = ReadAheadCap.eventsPast(smallestFrame: frame, margin: ReadAheadCap.socketBufferBytes / frame + 1000)
        let (box, h) = try startBurstBeforeReplyOnAWorker(n, pad: pad, cmdTimeoutMS: 8000)
        defer { box.stop() }
        defer { h.stop() }
        let total = (0..<n).reduce(0) { $0 + Self.frame($1, pad: pad).count }
        let stalled = stalledBytes(box)
        XCTAssertNotNil(stalled, "the box kept writing")
        XCTAssertLessThan(stalled ?? total, total, "the worker read every event: TCP did not push back")
        XCTAssertFalse(h.messages.contains { $0.hasPrefix("BURST") }, "the stall came after the command ended")
        XCTAssertTrue(h.waitFor("BURST failed", timeout: 30), h.messages.suffix(5).joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 120) { ran(h).count == n }, "ran \(ran(h).count) of \(n)")
        XCTAssertEqual(ran(h), (0..<n).map(String.init), "the box's events ran once each, in the order sent")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }

    /// The box's bytesSent once it stops moving (nil if it still moves after 20 s): two samples 300 ms apart equal.
    /// The pause is the condition itself: "the socket stopped taking bytes" has no event to wait on.
    private func stalledBytes(_ box: PlainESLBox) -> Int? {
        var last = -1
        let end = Date().addingTimeInterval(20)
        while Date() < end {
            usleep(300_000)
            let sent = box.bytesSent
            if sent == last { return sent }
            last = sent
        }
        return nil
    }

    /// The box's i-th event, with `pad` bytes of filler in a header.
    private static func frame(_ i: Int, pad: Int = 0) -> [UInt8] {
        var headers = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "u-\(i)"), ESLHeader("DTMF-Digit", "1"),
                       ESLHeader("Caller-Destination-Number", "flood\(i)")]
        if pad > 0 { headers.append(ESLHeader("variable_filler", String(repeating: "x", count: pad))) }
        return ESLEncoder.event(ESLEvent(headers: headers), format: .json)
    }

    private func ran(_ h: ServerHarness) -> [String] {
        h.messages.compactMap { m in m.hasPrefix("EV u-") ? String(m.dropFirst(5)) : nil }
    }

    /// A box that sends `n` DTMF events before its reply to "api burst", and a server whose route sends that command
    /// when the "burst" event comes (every other event logs `EV <Unique-ID>`). The trigger is queued in the box's lane
    /// while both workers are held, then they are let go: a worker runs it. Returns once they are.
    private func startBurstBeforeReplyOnAWorker(_ n: Int, pad: Int = 0, cmdTimeoutMS: Int) throws -> (PlainESLBox, ServerHarness) {
        let box = try PlainESLBox(password: Self.password)
        var events: [UInt8] = []
        for i in 0..<n { events += Self.frame(i, pad: pad) }
        box.sendBefore("api burst", events)
        let h = ServerHarness("""
            mpath = "\(BinaryRunner.buildDirectory.path)"
            event_queue_size = 16
            loadmodule "json.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch", "esl_cmd_timeout", \(cmdTimeoutMS))
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(box.port)/?DTMF")
            event_route[E_FREESWITCH] {
                $json(ev) := $param(body);
                if ($json(ev/Caller-Destination-Number) == "burst") {
                    if (freeswitch_esl("api burst", "127.0.0.1:\(box.port)", $var(out))) { xlog("BURST ok"); } else { xlog("BURST failed"); }
                } else {
                    xlog("EV $json(ev/Unique-ID)");
                }
            }
            """)
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        do { try h.start() } catch { box.stop(); throw error }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { box.commands.contains { $0.hasPrefix("event json DTMF") } })

        // Both workers held: the trigger event is queued in the box's lane, not run on the reader.
        let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            XCTAssertEqual(h.server.queue?.offer(.task { _ in holding.signal(); release.wait() }), true)
            XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        }
        let trigger = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "b-0"), ESLHeader("DTMF-Digit", "9"),
                       ESLHeader("Caller-Destination-Number", "burst")]
        box.send(ESLEncoder.event(ESLEvent(headers: trigger), format: .json))
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.laneDepth == 1 }, "the trigger waits in the lane")
        release.signal(); release.signal()
        return (box, h)
    }
}
