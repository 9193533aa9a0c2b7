import XCTest
import DispatcherSelection

/// The selection rules on their own: flags, OpenSIPS's hash, hash → destination over weights, weighted round-robin,
/// the failover order, the URI hash keys and the FreeSWITCH weight formula.
final class SelectionTests: XCTestCase {
    func testFlags() {
        XCTAssertEqual(try DSSelectFlags.parse("fD a").get(), [.failover, .useDefault, .append])
        XCTAssertEqual(try DSSelectFlags.parse("U").get(), [.userOnly])
        XCTAssertEqual(try DSSelectFlags.parse("").get(), [])
        guard case .failure(let bad) = DSSelectFlags.parse("fx") else { return XCTFail("x accepted") }
        XCTAssertEqual(bad.character, "x")
    }

    func testHashIsStableNonZeroAndSignedCharLikeC() {
        XCTAssertEqual(DSHash.hash("abc-123@host"), DSHash.hash("abc-123@host"))
        XCTAssertNotEqual(DSHash.hash("call-1"), DSHash.hash("call-2"))
        XCTAssertEqual(DSHash.hash(nil, nil), 0)
        XCTAssertNotEqual(DSHash.hash(""), 0) // never 0 for an input
        // Two keys are one running sum: (x, y) differs from (y, x) only through the 4-byte grouping.
        XCTAssertEqual(DSHash.hash("abcd", "efgh"), DSHash.hash(Array("abcd".utf8), Array("efgh".utf8)))
        // A byte >= 0x80 is a negative C char: "é" must not hash like two positive bytes.
        let pos: [UInt8] = [0x43, 0x29], neg: [UInt8] = [0xC3, 0xA9]
        XCTAssertNotEqual(DSHash.hash(pos), DSHash.hash(neg))
        // The C formula by hand for a 1-byte key "a": v = 97; h = v ^ (v >> 3) = 97 ^ 12 = 109; mix.
        var h: UInt32 = 97 ^ (97 >> 3)
        h = (h &+ (h >> 11)) &+ ((h >> 13) &+ (h >> 23))
        XCTAssertEqual(DSHash.hash("a"), h)
    }

    func testHashOverWeightsIsProportional() {
        // Weights 1, 2, 3 (total 6): of 6000 consecutive hashes, exactly 1000/2000/3000 land on each.
        let w = [1, 2, 3]
        var counts = [0, 0, 0]
        for h in 0..<6000 { counts[DSPick.byHash(UInt32(h), limit: 3) { DSCandidate(weight: w[$0], active: true) }!] += 1 }
        XCTAssertEqual(counts, [1000, 2000, 3000])
        // All weights 0: hash % count.
        XCTAssertEqual(DSPick.byHash(7, limit: 3) { _ in DSCandidate(weight: 0, active: true) }, 1)
        // A weight-0 destination is never chosen while others weigh more.
        for h in 0..<100 { XCTAssertNotEqual(DSPick.byHash(UInt32(h), limit: 3) { DSCandidate(weight: $0 == 1 ? 0 : 5, active: true) }, 1) }
    }

    func testInactivePickIsRedoneAmongActiveOnes() {
        let active = [true, false, true]
        var counts = [0, 0, 0]
        for h in 0..<3000 {
            counts[DSPick.byHash(UInt32(h), limit: 3) { DSCandidate(weight: 1, active: active[$0]) }!] += 1
        }
        XCTAssertEqual(counts[1], 0)
        XCTAssertEqual(counts[0] + counts[2], 3000)
        XCTAssertNil(DSPick.byHash(1, limit: 2) { _ in DSCandidate(weight: 1, active: false) })
        XCTAssertNil(DSPick.byHash(1, limit: 0) { _ in DSCandidate(weight: 1, active: true) })
    }

    func testWeightedRoundRobinSequence() {
        // Set 1 of the spec's fixture in memory order (.2 prio 10 w1, .3 prio 5 w2, .1 prio 0 w1):
        // .2, .3, .3, .1, .2, .3, .3, .1
        let w = [1, 2, 1]
        var rr = [0, 0, 0]
        var last = 0
        var seq: [Int] = []
        for _ in 0..<8 {
            let (i, reset) = DSPick.roundRobin(last: last, rrCount: rr[last], limit: 3) { DSCandidate(weight: w[$0], active: true) }!
            if reset { rr[i] = 0 }
            rr[i] += 1
            last = i
            seq.append(i)
        }
        XCTAssertEqual(seq, [0, 1, 1, 2, 0, 1, 1, 2])
        // An inactive one is skipped.
        let r = DSPick.roundRobin(last: 0, rrCount: 1, limit: 3) { DSCandidate(weight: 1, active: $0 != 1) }
        XCTAssertEqual(r?.0, 2)
    }

    func testFailoverOrder() {
        // Chosen .3 (index 1): .3, .1, .2; max_res 2: .3, .1; inactive ones left out; default last.
        XCTAssertEqual(DSPick.failoverOrder(chosen: 1, limit: 3, maxRes: 1000, defaultIndex: nil) { _ in true }, [1, 2, 0])
        XCTAssertEqual(DSPick.failoverOrder(chosen: 1, limit: 3, maxRes: 2, defaultIndex: nil) { _ in true }, [1, 2])
        XCTAssertEqual(DSPick.failoverOrder(chosen: 0, limit: 3, maxRes: 10, defaultIndex: nil) { $0 != 1 }, [0, 2])
        XCTAssertEqual(DSPick.failoverOrder(chosen: 0, limit: 2, maxRes: 10, defaultIndex: 2) { _ in true }, [0, 1, 2])
        XCTAssertEqual(DSPick.failoverOrder(chosen: 2, limit: 2, maxRes: 10, defaultIndex: 2) { _ in true }, [2])
    }

    func testURIHashKeys() {
        XCTAssertEqual(DSHash.uriKeys("sip:alice@example.com", userOnly: false).map { [$0.0, $0.1] }, ["alice", "example.com"])
        XCTAssertEqual(DSHash.uriKeys("<sip:alice@example.com:5070;transport=udp>", userOnly: false).map { [$0.0, $0.1] }, ["alice", "example.com:5070"])
        XCTAssertEqual(DSHash.uriKeys("sip:alice@example.com:5060", userOnly: false).map { [$0.0, $0.1] }, ["alice", "example.com"])
        XCTAssertEqual(DSHash.uriKeys("sips:bob@h:5061", userOnly: false).map { [$0.0, $0.1] }, ["bob", "h"])
        XCTAssertEqual(DSHash.uriKeys("sip:alice:pw@example.com", userOnly: true).map { [$0.0, $0.1] }, ["alice", nil])
    }

    func testFreeSwitchWeightFormula() {
        // The spec's examples: 30 of 1000 sessions, idle 80 % → 78; 500/1000, idle 50 → 25.
        XCTAssertEqual(DSWeight.freeswitch(max: 100, idleCPU: 80, sessions: 30, maxSessions: 1000), 78)
        XCTAssertEqual(DSWeight.freeswitch(max: 100, idleCPU: 50, sessions: 500, maxSessions: 1000), 25)
        XCTAssertEqual(DSWeight.freeswitch(max: 100, idleCPU: 99.633333, sessions: 0, maxSessions: 100), 100)
        // With max 1 the weight is 0 once load passes 50 %.
        XCTAssertEqual(DSWeight.freeswitch(max: 1, idleCPU: 40, sessions: 0, maxSessions: 100), 0)
        // C defects not copied: overloaded → 0 (not a huge value), Max-Sessions 0 → no division by zero.
        XCTAssertEqual(DSWeight.freeswitch(max: 100, idleCPU: 90, sessions: 120, maxSessions: 100), 0)
        XCTAssertEqual(DSWeight.freeswitch(max: 100, idleCPU: 90, sessions: 5, maxSessions: 0), 90)
        XCTAssertEqual(DSWeight.freeswitch(max: 65535, idleCPU: 100, sessions: 0, maxSessions: 10), 65535)
    }
}
