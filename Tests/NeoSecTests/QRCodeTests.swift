import Foundation
import Testing

@testable import AuthnService

/// The QR Code encoder of the TOTP enrolment page, checked against ISO/IEC 18004's tables and
/// worked examples. `Tests/interop/test_qrcode_interop.py` then compares whole symbols with the
/// Python `qrcode` package, from the vectors that `writesInteroperabilityVectors` writes.
@Suite("QR Code encoder (ISO/IEC 18004)")
struct QRCodeTests {
    static let uris: [String] = [
        "otpauth://totp/NeoSec:alice?secret=JBSWY3DPEHPK3PXP&issuer=NeoSec",
        "otpauth://totp/NeoSec:alice%40example.com?secret=KRUGS4ZANFZSAYJAONSWG4TFOQQHE4TGMFRGK&issuer=NeoSec&algorithm=SHA1&digits=6&period=30",
        "otpauth://totp/Soci%C3%A9t%C3%A9%20G%C3%A9n%C3%A9rale:bob@example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV"
            + "&issuer=Société Générale&algorithm=SHA256&digits=8&period=60",
    ]

    /// The BCH code word of `data` (`dataBits` bits) for a generator of degree `degree`: `data`
    /// followed by the remainder of the long division of data · x^degree by the generator, done
    /// one bit at a time from the top, which is the spec's own description (Annex C and D).
    static func bch(_ data: Int, dataBits: Int, generator: Int, degree: Int) -> Int {
        var remainder = data << degree
        for bit in stride(from: dataBits + degree - 1, through: degree, by: -1) where remainder & (1 << bit) != 0 {
            remainder ^= generator << (bit - degree)
        }
        return (data << degree) | remainder
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: Format and version information

    @Test func formatInformationIsTheMaskedBCHCode() {
        let levels: [(QRCode.Level, Int)] = [(.low, 0b01), (.medium, 0b00), (.quartile, 0b11), (.high, 0b10)]
        for (level, levelBits) in levels {
            #expect(level.formatBits == levelBits)
            for mask in 0..<8 {
                let expected = Self.bch((levelBits << 3) | mask, dataBits: 5, generator: 0b101_0011_0111, degree: 10) ^ 0b101_0100_0001_0010
                #expect(QRCode.formatBits(level: level, mask: mask) == expected, "level \(level), mask \(mask)")
            }
        }
    }

    @Test func wellKnownFormatInformation() {
        // ISO/IEC 18004:2015 Annex C, Table C.1.
        #expect(QRCode.formatBits(level: .medium, mask: 0) == 0b101010000010010)
        #expect(QRCode.formatBits(level: .low, mask: 0) == 0b111011111000100)
        #expect(QRCode.formatBits(level: .low, mask: 7) == 0b110100101110110)
        #expect(QRCode.formatBits(level: .quartile, mask: 0) == 0b011010101011111)
        #expect(QRCode.formatBits(level: .high, mask: 0) == 0b001011010001001)
        #expect(QRCode.formatBits(level: .high, mask: 7) == 0b000100000111011)
    }

    @Test func versionInformation() {
        // Annex D, Table D.1: 07C94, 085BC, …, 149A6.
        #expect(QRCode.versionBits(version: 7) == 0b000111110010010100)
        #expect(QRCode.versionBits(version: 8) == 0b001000010110111100)
        #expect(QRCode.versionBits(version: 20) == 0b010100100110100110)
        for version in 7...20 {
            #expect(QRCode.versionBits(version: version) == Self.bch(version, dataBits: 6, generator: 0x1F25, degree: 12), "version \(version)")
        }
    }

    // MARK: Codewords

    @Test func reedSolomonOfTheHelloWorld1MExample() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        #expect(QRCode.errorCorrectionCodewords(data, count: 10) == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test func galoisFieldArithmetic() {
        #expect(QRCode.gfMultiply(0x80, 0x02) == 0x1D)  // x⁸ = x⁴ + x³ + x² + 1
        #expect(QRCode.gfMultiply(0x53, 0x01) == 0x53)
        #expect(QRCode.gfMultiply(0x00, 0xFF) == 0x00)
        var power: UInt8 = 1
        var seen = Set<UInt8>()
        for _ in 0..<255 {
            seen.insert(power)
            power = QRCode.gfMultiply(power, 0x02)
        }
        #expect(power == 1)  // α²⁵⁵ = 1
        #expect(seen.count == 255)  // α generates every non-zero element
    }

    @Test func byteModeDataCodewords() {
        // 0100 | 00000001 | 01100001 | 0000, then the pad codewords 11101100 and 00010001.
        let codewords = QRCode.dataCodewords(Self.bytes("a"), version: 1, capacity: 19)
        let pads: [UInt8] = (0..<16).map { $0 % 2 == 0 ? 0xEC : 0x11 }
        #expect(codewords == [0x40, 0x16, 0x10] + pads)
        // From version 10 on, the character count has 16 bits.
        #expect(QRCode.dataCodewords(Self.bytes("a"), version: 10, capacity: 5) == [0x40, 0x00, 0x16, 0x10, 0xEC])
    }

    @Test func blockTablesAddUpToTheSymbolCapacity() {
        // Codewords of a version: its modules less the function patterns and the format and
        // version information, in bytes (the remainder bits are left over).
        for version in QRCode.versions {
            let size = 17 + 4 * version
            let alignments = version == 1 ? 0 : (version / 7 + 2) * (version / 7 + 2) - 3
            let alignmentsOnTiming = version == 1 ? 0 : 2 * (version / 7)  // 5 modules each on a timing pattern
            var function = 3 * 64 + 2 * (size - 16) + 25 * alignments - 5 * alignmentsOnTiming + 31
            if version >= 7 { function += 36 }
            for level in QRCode.Level.allCases {
                let blocks = QRCode.blockStructure(version: version, level: level)
                #expect(blocks.totalCodewords == (size * size - function) / 8, "version \(version) level \(level)")
                #expect(blocks.group2Blocks == 0 || blocks.group2DataCodewords == blocks.group1DataCodewords + 1)
            }
        }
    }

    @Test func byteCapacities() {
        // Table 7, byte mode.
        let expected: [(Int, QRCode.Level, Int)] = [
            (1, .low, 17), (1, .medium, 14), (1, .quartile, 11), (1, .high, 7),
            (7, .medium, 122), (10, .medium, 213), (14, .low, 458),
            (20, .low, 858), (20, .medium, 666), (20, .quartile, 482), (20, .high, 382),
        ]
        for (version, level, capacity) in expected {
            #expect(QRCode.byteCapacity(version: version, level: level) == capacity, "version \(version) level \(level)")
        }
    }

    @Test func smallestVersionIsChosen() throws {
        for level in QRCode.Level.allCases {
            #expect(QRCode.smallestVersion(byteCount: 0, level: level) == 1)
            for version in QRCode.versions {
                let capacity = QRCode.byteCapacity(version: version, level: level)
                #expect(QRCode.smallestVersion(byteCount: capacity, level: level) == version, "level \(level)")
                #expect(QRCode.smallestVersion(byteCount: capacity + 1, level: level) == (version < 20 ? version + 1 : nil), "level \(level)")
            }
        }
        #expect(try QRCode(encoding: Self.bytes(Self.uris[0])).version == 5)  // 65 bytes at M
        #expect(try QRCode(encoding: [UInt8](repeating: 0x61, count: 14)).version == 1)
        #expect(try QRCode(encoding: [UInt8](repeating: 0x61, count: 15)).version == 2)
        #expect(try QRCode(encoding: [UInt8](repeating: 0x61, count: 858), errorCorrection: .low).version == 20)
        #expect(try QRCode(encoding: [], errorCorrection: .high).version == 1)
    }

    @Test func errors() {
        #expect(throws: QRCodeError(.tooLong)) { try QRCode(encoding: [UInt8](repeating: 0x61, count: 859), errorCorrection: .low) }
        #expect(throws: QRCodeError(.tooLong)) { try QRCode(encoding: [UInt8](repeating: 0x61, count: 667)) }
        #expect(throws: QRCodeError(.tooLong)) { try QRCode(encoding: [UInt8](repeating: 0x61, count: 15), version: 1, mask: 0) }
        #expect(throws: QRCodeError(.unsupportedVersion)) { try QRCode(encoding: [0x61], version: 21, mask: 0) }
        #expect(throws: QRCodeError(.unsupportedVersion)) { try QRCode(encoding: [0x61], version: 0, mask: nil) }
        #expect(throws: QRCodeError(.invalidMask)) { try QRCode(encoding: [0x61], version: 1, mask: 8) }
        #expect(throws: QRCodeError(.invalidMask)) { try QRCode(encoding: [0x61], version: 1, mask: -1) }
    }

    // MARK: Function patterns

    @Test func functionPatternsAndInformation() throws {
        let symbols: [(Int, QRCode.Level)] = [(1, .medium), (2, .low), (5, .quartile), (7, .high), (10, .medium), (14, .low), (20, .high)]
        for (version, level) in symbols {
            for mask in [0, 5] {
                let code = try QRCode(encoding: Self.bytes("otpauth://a"), errorCorrection: level, version: version, mask: mask)
                let m = code.modules
                let size = 17 + 4 * version
                #expect(code.size == size)
                #expect(m.count == size && m.allSatisfy { $0.count == size })
                // Finder patterns (7 × 7: dark ring, light ring, dark 3 × 3) and light separators.
                for (top, left) in [(0, 0), (0, size - 7), (size - 7, 0)] {
                    for r in 0..<7 {
                        for c in 0..<7 {
                            #expect(m[top + r][left + c] == (max(abs(r - 3), abs(c - 3)) != 2), "finder at \(top), \(left)")
                        }
                    }
                }
                for k in 0..<8 {
                    #expect(!m[7][k] && !m[k][7])  // upper left
                    #expect(!m[7][size - 1 - k] && !m[k][size - 8])  // upper right
                    #expect(!m[size - 8][k] && !m[size - 1 - k][7])  // lower left
                }
                // Timing patterns.
                for k in 8...(size - 9) {
                    #expect(m[6][k] == (k % 2 == 0) && m[k][6] == (k % 2 == 0))
                }
                // The dark module.
                #expect(m[4 * version + 9][8])
                // The lower-right alignment pattern.
                if version >= 2 {
                    let centre = size - 7
                    for r in -2...2 {
                        for c in -2...2 { #expect(m[centre + r][centre + c] == (max(abs(r), abs(c)) != 1)) }
                    }
                }
                // Both copies of the format information, most significant bit first.
                let format = QRCode.formatBits(level: level, mask: mask)
                let firstCopy: [(Int, Int)] = [
                    (8, 0), (8, 1), (8, 2), (8, 3), (8, 4), (8, 5), (8, 7), (8, 8), (7, 8), (5, 8), (4, 8), (3, 8), (2, 8), (1, 8), (0, 8),
                ]
                let first: [Bool] = firstCopy.map { m[$0.0][$0.1] }
                let second: [Bool] = (0..<7).map { m[size - 1 - $0][8] } + (0..<8).map { m[8][size - 8 + $0] }
                #expect(Self.number(first) == format)
                #expect(Self.number(second) == format)
                // Both copies of the version information, from version 7 on.
                if version >= 7 {
                    let bits = QRCode.versionBits(version: version)
                    for i in 0..<18 {
                        let bit = (bits >> i) & 1 == 1
                        #expect(m[i / 3][size - 11 + i % 3] == bit && m[size - 11 + i % 3][i / 3] == bit, "version bit \(i)")
                    }
                }
            }
        }
    }

    static func number(_ bits: [Bool]) -> Int { bits.reduce(0) { ($0 << 1) | ($1 ? 1 : 0) } }

    // MARK: Masks and penalties

    static func matrix(_ rows: [String]) -> [[Bool]] { rows.map { $0.map { $0 == "1" } } }

    @Test func penaltyRules() {
        // All dark 7 × 7: rule 1, 14 runs of 7 = 14 × 5; rule 2, 36 blocks × 3; rule 4, 100 %.
        #expect(QRCode.penalty([[Bool]](repeating: [Bool](repeating: true, count: 7), count: 7)) == 70 + 108 + 100)
        // A checkerboard (25 dark of 49) has none.
        #expect(QRCode.penalty((0..<7).map { r in (0..<7).map { c in (r + c) % 2 == 0 } }) == 0)
        // 11 × 11, light but for 10111010000 in the first row: rule 1, 10 light rows (9 each)
        // and 11 columns (8 under a dark module, 9 otherwise); rule 2, 93 blocks; rule 3, one
        // pattern; rule 4, 5 dark of 121 (45 % away from 50 %).
        let finder = Self.matrix(["10111010000"] + [String](repeating: "00000000000", count: 10))
        #expect(QRCode.penalty(finder) == (90 + 5 * 8 + 6 * 9) + 93 * 3 + 40 + 90)
        let reversed = Self.matrix([String](repeating: "00000000000", count: 10) + ["00001011101"])
        #expect(QRCode.penalty(reversed) == QRCode.penalty(finder))
        // The same pattern in a column counts the same.
        let transposed = (0..<11).map { r in (0..<11).map { c in finder[c][r] } }
        #expect(QRCode.penalty(transposed) == QRCode.penalty(finder))
    }

    @Test func masks() {
        // Table 10, at (row i, column j).
        #expect(QRCode.maskInverts(0, row: 1, column: 1) && !QRCode.maskInverts(0, row: 0, column: 1))
        #expect(QRCode.maskInverts(1, row: 2, column: 5) && !QRCode.maskInverts(1, row: 3, column: 0))
        #expect(QRCode.maskInverts(2, row: 1, column: 3) && !QRCode.maskInverts(2, row: 0, column: 1))
        #expect(QRCode.maskInverts(3, row: 1, column: 2) && !QRCode.maskInverts(3, row: 1, column: 1))
        #expect(QRCode.maskInverts(4, row: 1, column: 2) && !QRCode.maskInverts(4, row: 2, column: 0))
        #expect(QRCode.maskInverts(5, row: 6, column: 1) && !QRCode.maskInverts(5, row: 1, column: 1))
        #expect(QRCode.maskInverts(6, row: 1, column: 1) && !QRCode.maskInverts(6, row: 1, column: 3))
        #expect(QRCode.maskInverts(7, row: 0, column: 0) && !QRCode.maskInverts(7, row: 0, column: 1))
    }

    @Test func theLowestPenaltyMaskIsChosen() throws {
        for uri in Self.uris {
            for level in QRCode.Level.allCases {
                let chosen = try QRCode(encoding: Self.bytes(uri), errorCorrection: level)
                let candidates = try (0..<8).map { try QRCode(encoding: Self.bytes(uri), errorCorrection: level, version: chosen.version, mask: $0) }
                let penalties = candidates.map { QRCode.penalty($0.modules) }
                let best = penalties.firstIndex(of: penalties.min()!)!
                #expect(chosen.mask == best)
                #expect(chosen.modules == candidates[best].modules)
                // Each mask makes a different symbol.
                #expect(Set(candidates.map(\.modules)).count == 8)
            }
        }
    }

    // MARK: SVG

    @Test func svgDrawsEveryDarkModuleAndNothingElse() throws {
        let code = try QRCode(encoding: Self.bytes(Self.uris[1]))
        let svg = code.svg(moduleSize: 5, quietZone: 4, title: "NeoSec: alice & <bob>")
        let side = code.size + 8
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>"))
        #expect(!svg.contains("style"))
        #expect(svg.contains("viewBox=\"0 0 \(side) \(side)\""))
        #expect(svg.contains("width=\"\(side * 5)\" height=\"\(side * 5)\""))
        #expect(svg.contains("role=\"img\""))
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.contains("<title>NeoSec: alice &amp; &lt;bob&gt;</title>"))
        #expect(svg.contains("<rect width=\"\(side)\" height=\"\(side)\" fill=\"#ffffff\"/>"))
        #expect(svg.components(separatedBy: "<path").count == 2)

        // Redraw the symbol from the path's runs.
        let start = try #require(svg.range(of: " d=\""))
        let end = try #require(svg[start.upperBound...].firstIndex(of: "\""))
        let path = svg[start.upperBound..<end]
        var drawn = [[Bool]](repeating: [Bool](repeating: false, count: side), count: side)
        for run in path.split(separator: "z") {
            // M<x> <y>h<w>v1h-<w>
            #expect(run.first == "M")
            let parts = run.dropFirst().split(separator: "h")
            try #require(parts.count == 3)
            let origin = parts[0].split(separator: " ").compactMap { Int($0) }
            let width = try #require(Int(parts[1].prefix { $0 != "v" }))
            try #require(origin.count == 2)
            #expect(parts[1].hasSuffix("v1") && parts[2] == "-\(width)")
            for x in origin[0]..<(origin[0] + width) {
                #expect(!drawn[origin[1]][x])  // runs do not overlap
                drawn[origin[1]][x] = true
            }
        }
        let inside = 4..<(side - 4)
        let expected: [[Bool]] = (0..<side).map { y in (0..<side).map { x in inside.contains(y) && inside.contains(x) && code.modules[y - 4][x - 4] } }
        #expect(drawn == expected)
    }

    @Test func svgWithoutQuietZone() throws {
        let code = try QRCode(encoding: Self.bytes("otpauth://totp/a?secret=b"), errorCorrection: .low)
        let svg = code.svg(moduleSize: 1, quietZone: 0, title: "t")
        #expect(svg.contains("viewBox=\"0 0 \(code.size) \(code.size)\""))
        #expect(svg.contains("d=\"M0 0h7v1h-7z"))  // the top of the upper-left finder
    }

    // MARK: Vectors for the Python `qrcode` cross-check

    static func levelName(_ level: QRCode.Level) -> String {
        switch level {
        case .low: "L"
        case .medium: "M"
        case .quartile: "Q"
        case .high: "H"
        }
    }

    static func bitString(_ row: [Bool]) -> String {
        var text = ""
        for module in row { text += module ? "1" : "0" }
        return text
    }

    /// Writes symbols to the JSON file named by `NEOSEC_QR_VECTORS` (scripts/test.sh sets it), for
    /// `Tests/interop/test_qrcode_interop.py`; does nothing when it is unset.
    @Test func writesInteroperabilityVectors() throws {
        guard let path = ProcessInfo.processInfo.environment["NEOSEC_QR_VECTORS"], !path.isEmpty else { return }
        var entries: [String] = []
        func add(_ name: String, _ bytes: [UInt8], _ code: QRCode, chosen: Bool) {
            let rows: [String] = code.modules.map { "\"" + Self.bitString($0) + "\"" }
            let numbers: [String] = bytes.map { String($0) }
            let level = Self.levelName(code.errorCorrection)
            entries.append(
                "{\"name\": \"\(name)\", \"bytes\": [\(numbers.joined(separator: ","))], \"level\": \"\(level)\", "
                    + "\"version\": \(code.version), \"mask\": \(code.mask), \"chosen\": \(chosen), \"rows\": [\(rows.joined(separator: ","))]}"
            )
        }
        // Every mask, at the version chosen for each URI and level, and at version 20.
        for (index, uri) in Self.uris.enumerated() {
            let bytes = Self.bytes(uri)
            for level in QRCode.Level.allCases {
                let chosen = try QRCode(encoding: bytes, errorCorrection: level)
                add("uri\(index)-\(Self.levelName(level))", bytes, chosen, chosen: true)
                for mask in 0..<8 {
                    let forced = try QRCode(encoding: bytes, errorCorrection: level, version: chosen.version, mask: mask)
                    add("uri\(index)-\(Self.levelName(level))-mask\(mask)", bytes, forced, chosen: false)
                }
            }
        }
        let uri1 = Self.bytes(Self.uris[1])
        for mask in 0..<8 {
            let forced = try QRCode(encoding: uri1, errorCorrection: .low, version: 20, mask: mask)
            add("uri1-L-v20-mask\(mask)", uri1, forced, chosen: false)
        }
        // Every version and level, full to capacity: every block of the tables is used.
        let filler = Self.bytes("otpauth://totp/neosec:alice?secret=jbswy3dpehpk3pxp&issuer=neosec&period=30&")
        for version in QRCode.versions {
            for level in QRCode.Level.allCases {
                let count = QRCode.byteCapacity(version: version, level: level)
                let bytes = (0..<count).map { filler[$0 % filler.count] }
                let chosen = try QRCode(encoding: bytes, errorCorrection: level)
                #expect(chosen.version == version)
                add("full-v\(version)-\(Self.levelName(level))", bytes, chosen, chosen: true)
            }
        }
        let json = "{\"vectors\": [\n" + entries.joined(separator: ",\n") + "\n]}\n"
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(json.utf8).write(to: url)
    }
}
