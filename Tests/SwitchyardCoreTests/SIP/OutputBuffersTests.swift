import XCTest
@testable import SwitchyardCore

/// The per-thread output buffer: handed over empty with its capacity kept, not kept once grown past the kept size,
/// and a nested use on the same thread gets a buffer of its own.
final class OutputBuffersTests: XCTestCase {
    func testCapacityKeptUpToTheKeptSize() {
        let buffers = OutputBuffers()
        buffers.with { out in
            out.reserveCapacity(1000)
            out.append(text: "first")
        }
        buffers.with { out in
            XCTAssertTrue(out.isEmpty)
            XCTAssertGreaterThanOrEqual(out.capacity, 1000)
        }
        // Grown past the kept size: freed after use, the next use starts from nothing.
        buffers.with { out in
            let big = [UInt8](repeating: 65, count: OutputBuffers.keptCapacity + 1)
            big.withUnsafeBufferPointer { out.append(contentsOf: $0) }
            XCTAssertEqual(out.count, OutputBuffers.keptCapacity + 1)
            XCTAssertTrue(out.bytes.allSatisfy { $0 == 65 })
        }
        buffers.with { out in
            XCTAssertTrue(out.isEmpty)
            XCTAssertEqual(out.capacity, 0)
            out.append(text: "again")
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "again")
        }
    }

    func testNestedUseGetsItsOwnBuffer() {
        let buffers = OutputBuffers()
        let inner = buffers.with { outer -> String in
            outer.append(text: "outer")
            let s = buffers.with { inner -> String in
                XCTAssertTrue(inner.isEmpty)
                inner.append(text: "inner")
                return String(decoding: inner.bytes, as: UTF8.self)
            }
            outer.append(text: "+")
            XCTAssertEqual(String(decoding: outer.bytes, as: UTF8.self), "outer+")
            return s
        }
        XCTAssertEqual(inner, "inner")
        buffers.with { out in XCTAssertTrue(out.isEmpty) }
    }

    func testWriterGrowsKeepingItsBytes() {
        let built = ByteWriter.build(capacity: 1) { out in
            for i in 0..<3000 { out.append(UInt8(i % 251)) }
            out.appendCRLF()
            out.append(literal: "end")
        }
        XCTAssertEqual(built.count, 3005)
        XCTAssertEqual(Array(built.prefix(3000)), (0..<3000).map { UInt8($0 % 251) })
        XCTAssertEqual(Array(built.suffix(5)), Array("\r\nend".utf8))
    }
}
