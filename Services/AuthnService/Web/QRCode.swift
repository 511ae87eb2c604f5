/// A QR Code symbol (ISO/IEC 18004:2015, model 2) for TOTP enrolment: the `otpauth://` URI of a
/// new authenticator, drawn as an inline SVG on the account page, so that the shared secret is
/// never handed to an image service or a third-party encoder.
///
/// Scope: byte mode only (an `otpauth://` URI has lowercase letters, so the alphanumeric mode
/// cannot hold it anyway), versions 1–20 (up to 858 bytes at level L, 666 at M), the four
/// error-correction levels. No ECI, structured append, FNC1 or Micro QR.
///
/// The steps are those of ISO/IEC 18004 §7: the data bit stream (§7.4), its split into blocks
/// and the Reed–Solomon codewords of each (§7.5), the interleaving (§7.6), the function patterns
/// and the placement of the codewords (§7.7), the data masks and their penalties (§7.8), and the
/// format and version information (§7.9, §7.10).
struct QRCode: Sendable, Equatable {
    /// The error-correction level: about 7 %, 15 %, 25 % or 30 % of the codewords can be restored.
    enum Level: Sendable, CaseIterable {
        case low, medium, quartile, high

        /// The level's two bits in the format information (Table 12): L 01, M 00, Q 11, H 10.
        var formatBits: Int {
            switch self {
            case .low: 0b01
            case .medium: 0b00
            case .quartile: 0b11
            case .high: 0b10
            }
        }

        /// The level's column in `QRCode.blockTable`.
        fileprivate var tableIndex: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .quartile: 2
            case .high: 3
            }
        }
    }

    /// The versions this encoder makes (a version-v symbol is 17 + 4v modules wide).
    static let versions: ClosedRange<Int> = 1...20
    /// The eight data masks of Table 10, by their reference.
    static let masks: Range<Int> = 0..<8

    let version: Int
    let errorCorrection: Level
    /// The data mask applied (0–7).
    let mask: Int
    /// Modules per side: 17 + 4 × version.
    let size: Int
    /// Row-major, `true` = dark; the quiet zone is not included.
    let modules: [[Bool]]

    /// Encodes `bytes` in the smallest version that holds them at `errorCorrection`, with the data
    /// mask of the lowest penalty (the lowest mask reference on a tie).
    init(encoding bytes: [UInt8], errorCorrection: Level = .medium) throws(QRCodeError) {
        guard let version = Self.smallestVersion(byteCount: bytes.count, level: errorCorrection) else { throw QRCodeError(.tooLong) }
        self.init(checked: bytes, level: errorCorrection, version: version, mask: nil)
    }

    /// Encodes `bytes` in the given version and, unless `mask` is nil, with the given data mask:
    /// for comparing symbols with another encoder's.
    init(encoding bytes: [UInt8], errorCorrection: Level = .medium, version: Int, mask: Int?) throws(QRCodeError) {
        guard Self.versions.contains(version) else { throw QRCodeError(.unsupportedVersion) }
        if let mask, !Self.masks.contains(mask) { throw QRCodeError(.invalidMask) }
        guard Self.fits(byteCount: bytes.count, version: version, level: errorCorrection) else { throw QRCodeError(.tooLong) }
        self.init(checked: bytes, level: errorCorrection, version: version, mask: mask)
    }

    /// `bytes` fit `version` at `level`, which is in `versions`; `mask`, if any, is in `masks`.
    private init(checked bytes: [UInt8], level: Level, version: Int, mask forcedMask: Int?) {
        let blocks = Self.blockStructure(version: version, level: level)
        let data = Self.dataCodewords(bytes, version: version, capacity: blocks.dataCodewords)
        var grid = Grid(version: version)
        grid.drawFunctionPatterns()
        grid.placeCodewords(Self.interleave(data, blocks))

        let mask: Int
        if let forcedMask {
            mask = forcedMask
        } else {
            var best = 0
            var bestPenalty = Int.max
            for candidate in Self.masks {
                var trial = grid
                trial.applyMask(candidate)
                trial.drawFormatInformation(level: level, mask: candidate)
                let penalty = Self.penalty(trial.dark, size: trial.size)
                if penalty < bestPenalty {
                    best = candidate
                    bestPenalty = penalty
                }
            }
            mask = best
        }
        grid.applyMask(mask)
        grid.drawFormatInformation(level: level, mask: mask)

        self.version = version
        self.errorCorrection = level
        self.mask = mask
        self.size = grid.size
        let side = grid.size
        self.modules = (0..<side).map { row in Array(grid.dark[(row * side)..<((row + 1) * side)]) }
    }

    // MARK: Capacity and blocks (Tables 7 and 9)

    /// Error-correction block structure of one version and level.
    struct BlockStructure: Sendable, Equatable {
        /// Error-correction codewords of every block.
        let ecCodewordsPerBlock: Int
        /// Group 1: `group1Blocks` blocks of `group1DataCodewords` data codewords each.
        let group1Blocks: Int
        let group1DataCodewords: Int
        /// Group 2 (possibly empty): blocks with one data codeword more than those of group 1.
        let group2Blocks: Int
        let group2DataCodewords: Int

        var blockCount: Int { group1Blocks + group2Blocks }
        var dataCodewords: Int { group1Blocks * group1DataCodewords + group2Blocks * group2DataCodewords }
        var totalCodewords: Int { dataCodewords + blockCount * ecCodewordsPerBlock }
    }

    /// Table 9, versions 1–20, in the order L, M, Q, H: (EC codewords per block, blocks in
    /// group 1, data codewords per block of group 1, blocks in group 2, data codewords per block
    /// of group 2).
    private static let blockTable: [[(Int, Int, Int, Int, Int)]] = [
        /*  1 */ [(7, 1, 19, 0, 0), (10, 1, 16, 0, 0), (13, 1, 13, 0, 0), (17, 1, 9, 0, 0)],
        /*  2 */ [(10, 1, 34, 0, 0), (16, 1, 28, 0, 0), (22, 1, 22, 0, 0), (28, 1, 16, 0, 0)],
        /*  3 */ [(15, 1, 55, 0, 0), (26, 1, 44, 0, 0), (18, 2, 17, 0, 0), (22, 2, 13, 0, 0)],
        /*  4 */ [(20, 1, 80, 0, 0), (18, 2, 32, 0, 0), (26, 2, 24, 0, 0), (16, 4, 9, 0, 0)],
        /*  5 */ [(26, 1, 108, 0, 0), (24, 2, 43, 0, 0), (18, 2, 15, 2, 16), (22, 2, 11, 2, 12)],
        /*  6 */ [(18, 2, 68, 0, 0), (16, 4, 27, 0, 0), (24, 4, 19, 0, 0), (28, 4, 15, 0, 0)],
        /*  7 */ [(20, 2, 78, 0, 0), (18, 4, 31, 0, 0), (18, 2, 14, 4, 15), (26, 4, 13, 1, 14)],
        /*  8 */ [(24, 2, 97, 0, 0), (22, 2, 38, 2, 39), (22, 4, 18, 2, 19), (26, 4, 14, 2, 15)],
        /*  9 */ [(30, 2, 116, 0, 0), (22, 3, 36, 2, 37), (20, 4, 16, 4, 17), (24, 4, 12, 4, 13)],
        /* 10 */ [(18, 2, 68, 2, 69), (26, 4, 43, 1, 44), (24, 6, 19, 2, 20), (28, 6, 15, 2, 16)],
        /* 11 */ [(20, 4, 81, 0, 0), (30, 1, 50, 4, 51), (28, 4, 22, 4, 23), (24, 3, 12, 8, 13)],
        /* 12 */ [(24, 2, 92, 2, 93), (22, 6, 36, 2, 37), (26, 4, 20, 6, 21), (28, 7, 14, 4, 15)],
        /* 13 */ [(26, 4, 107, 0, 0), (22, 8, 37, 1, 38), (24, 8, 20, 4, 21), (22, 12, 11, 4, 12)],
        /* 14 */ [(30, 3, 115, 1, 116), (24, 4, 40, 5, 41), (20, 11, 16, 5, 17), (24, 11, 12, 5, 13)],
        /* 15 */ [(22, 5, 87, 1, 88), (24, 5, 41, 5, 42), (30, 5, 24, 7, 25), (24, 11, 12, 7, 13)],
        /* 16 */ [(24, 5, 98, 1, 99), (28, 7, 45, 3, 46), (24, 15, 19, 2, 20), (30, 3, 15, 13, 16)],
        /* 17 */ [(28, 1, 107, 5, 108), (28, 10, 46, 1, 47), (28, 1, 22, 15, 23), (28, 2, 14, 17, 15)],
        /* 18 */ [(30, 5, 120, 1, 121), (26, 9, 43, 4, 44), (28, 17, 22, 1, 23), (28, 2, 14, 19, 15)],
        /* 19 */ [(28, 3, 113, 4, 114), (26, 3, 44, 11, 45), (26, 17, 21, 4, 22), (26, 9, 13, 16, 14)],
        /* 20 */ [(28, 3, 107, 5, 108), (26, 3, 41, 13, 42), (30, 15, 24, 5, 25), (28, 15, 15, 10, 16)],
    ]

    /// The block structure of `version` (in `versions`) at `level`.
    static func blockStructure(version: Int, level: Level) -> BlockStructure {
        let (ec, blocks1, data1, blocks2, data2) = blockTable[version - 1][level.tableIndex]
        return BlockStructure(
            ecCodewordsPerBlock: ec, group1Blocks: blocks1, group1DataCodewords: data1, group2Blocks: blocks2, group2DataCodewords: data2
        )
    }

    /// Bits of the character count indicator in byte mode (Table 3): 8 up to version 9, then 16.
    static func characterCountBits(version: Int) -> Int { version <= 9 ? 8 : 16 }

    /// The most bytes that `version` holds at `level` in byte mode (Table 7).
    static func byteCapacity(version: Int, level: Level) -> Int {
        (blockStructure(version: version, level: level).dataCodewords * 8 - 4 - characterCountBits(version: version)) / 8
    }

    static func fits(byteCount: Int, version: Int, level: Level) -> Bool {
        byteCount <= byteCapacity(version: version, level: level)
    }

    /// The smallest version that holds `byteCount` bytes at `level`, if any.
    static func smallestVersion(byteCount: Int, level: Level) -> Int? {
        versions.first { fits(byteCount: byteCount, version: $0, level: level) }
    }

    // MARK: Data and error correction (§7.4–7.6)

    /// The data codewords of `bytes` in byte mode: mode indicator 0100, character count,
    /// the bytes, a terminator of up to four 0 bits, 0 bits to the byte boundary, then the pad
    /// codewords 11101100 and 00010001 in turn up to `capacity` codewords.
    static func dataCodewords(_ bytes: [UInt8], version: Int, capacity: Int) -> [UInt8] {
        var bits = BitWriter()
        bits.append(0b0100, count: 4)
        bits.append(bytes.count, count: characterCountBits(version: version))
        for byte in bytes { bits.append(Int(byte), count: 8) }
        bits.append(0, count: min(4, capacity * 8 - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var codewords = bits.bytes
        var pad: UInt8 = 0xEC
        while codewords.count < capacity {
            codewords.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return codewords
    }

    /// The final message (§7.6): the data codewords split into blocks (group 1, then group 2),
    /// then the data codewords taken block by block, column by column, then the error-correction
    /// codewords the same way.
    static func interleave(_ data: [UInt8], _ structure: BlockStructure) -> [UInt8] {
        var dataBlocks: [[UInt8]] = []
        var start = 0
        for index in 0..<structure.blockCount {
            let length = index < structure.group1Blocks ? structure.group1DataCodewords : structure.group2DataCodewords
            dataBlocks.append(Array(data[start..<(start + length)]))
            start += length
        }
        let generator = reedSolomonGenerator(degree: structure.ecCodewordsPerBlock)
        let ecBlocks = dataBlocks.map { reedSolomonRemainder($0, generator: generator) }

        var message: [UInt8] = []
        message.reserveCapacity(structure.totalCodewords)
        let longest = max(structure.group1DataCodewords, structure.group2DataCodewords)
        for column in 0..<longest {
            for block in dataBlocks where column < block.count { message.append(block[column]) }
        }
        for column in 0..<structure.ecCodewordsPerBlock {
            for block in ecBlocks { message.append(block[column]) }
        }
        return message
    }

    /// Product of two elements of GF(2⁸) modulo x⁸ + x⁴ + x³ + x² + 1 (0x11D).
    static func gfMultiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var product = 0
        for bit in stride(from: 7, through: 0, by: -1) {
            product = (product << 1) ^ ((product >> 7) * 0x11D)
            product ^= ((Int(y) >> bit) & 1) * Int(x)
        }
        return UInt8(product)
    }

    /// The generator polynomial (x − α⁰)(x − α¹)…(x − α^(degree−1)), α = 2, as its coefficients
    /// from x^(degree−1) down to x⁰ (the leading coefficient 1 is left out).
    static func reedSolomonGenerator(degree: Int) -> [UInt8] {
        var coefficients = [UInt8](repeating: 0, count: degree)
        coefficients[degree - 1] = 1  // the polynomial 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            // Multiply by (x − root): shift up one degree, add root × the polynomial.
            for j in 0..<degree {
                coefficients[j] = gfMultiply(coefficients[j], root)
                if j + 1 < degree { coefficients[j] ^= coefficients[j + 1] }
            }
            root = gfMultiply(root, 0x02)
        }
        return coefficients
    }

    /// The error-correction codewords of `data`: the remainder of data(x) · x^degree divided by
    /// the generator polynomial.
    static func reedSolomonRemainder(_ data: [UInt8], generator: [UInt8]) -> [UInt8] {
        let degree = generator.count
        var remainder = [UInt8](repeating: 0, count: degree)
        for byte in data {
            let factor = byte ^ remainder[0]
            for j in 0..<(degree - 1) { remainder[j] = remainder[j + 1] }
            remainder[degree - 1] = 0
            for j in 0..<degree { remainder[j] ^= gfMultiply(generator[j], factor) }
        }
        return remainder
    }

    /// `count` error-correction codewords of one block of data codewords.
    static func errorCorrectionCodewords(_ data: [UInt8], count: Int) -> [UInt8] {
        reedSolomonRemainder(data, generator: reedSolomonGenerator(degree: count))
    }

    // MARK: Format and version information (§7.9, §7.10)

    /// The 15 format bits: the level's two bits and the mask's three, their BCH(15,5) code
    /// (generator x¹⁰ + x⁸ + x⁵ + x⁴ + x² + x + 1, 0x537), XOR 101010000010010.
    static func formatBits(level: Level, mask: Int) -> Int {
        let data = (level.formatBits << 3) | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return ((data << 10) | remainder) ^ 0x5412
    }

    /// The 18 version bits (versions 7 and up): the version's six bits and their BCH(18,6) code
    /// (generator x¹² + x¹¹ + x¹⁰ + x⁹ + x⁸ + x⁵ + x² + 1, 0x1F25).
    static func versionBits(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return (version << 12) | remainder
    }

    /// Row or column of the centres of the alignment patterns (Annex E), versions 2–20.
    private static let alignmentPositions: [[Int]] = [
        [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
        [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
        [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82], [6, 30, 58, 86], [6, 34, 62, 90],
    ]

    static func alignmentPatternCentres(version: Int) -> [Int] { alignmentPositions[version - 1] }

    /// Whether data mask `mask` (Table 10) inverts the module at `row`, `column`.
    static func maskInverts(_ mask: Int, row i: Int, column j: Int) -> Bool {
        switch mask {
        case 0: (i + j) % 2 == 0
        case 1: i % 2 == 0
        case 2: j % 3 == 0
        case 3: (i + j) % 3 == 0
        case 4: (i / 2 + j / 3) % 2 == 0
        case 5: (i * j) % 2 + (i * j) % 3 == 0
        case 6: ((i * j) % 2 + (i * j) % 3) % 2 == 0
        default: ((i + j) % 2 + (i * j) % 3) % 2 == 0
        }
    }

    // MARK: Penalty (§7.8.3, Table 11)

    /// The penalty score of a whole symbol, `true` = dark, row-major:
    /// 1. each run of five or more modules of one colour in a row or column: 3 + (length − 5);
    /// 2. each 2 × 2 block of one colour (blocks may overlap): 3;
    /// 3. each 1:1:3:1:1 finder-like pattern with four light modules on one side, that is each
    ///    occurrence of 10111010000 or 00001011101 in a row or column: 40;
    /// 4. 10 for each full 5 % by which the proportion of dark modules departs from 50 %.
    static func penalty(_ dark: [Bool], size: Int) -> Int {
        guard size > 0 else { return 0 }
        let finderBefore: [Bool] = [true, false, true, true, true, false, true, false, false, false, false]  // 10111010000
        let finderAfter: [Bool] = finderBefore.reversed()  // 00001011101
        var score = 0
        // Rules 1 and 3, along rows (byColumn false) and then columns.
        for byColumn in [false, true] {
            for line in 0..<size {
                func at(_ k: Int) -> Bool { byColumn ? dark[k * size + line] : dark[line * size + k] }
                var runColour = at(0)
                var runLength = 0
                for k in 0..<size {
                    if at(k) == runColour {
                        runLength += 1
                    } else {
                        if runLength >= 5 { score += 3 + runLength - 5 }
                        runColour = at(k)
                        runLength = 1
                    }
                }
                if runLength >= 5 { score += 3 + runLength - 5 }

                if size >= 11 {
                    for k in 0...(size - 11) {
                        var matchesBefore = true
                        var matchesAfter = true
                        for offset in 0..<11 {
                            let module = at(k + offset)
                            if module != finderBefore[offset] { matchesBefore = false }
                            if module != finderAfter[offset] { matchesAfter = false }
                        }
                        if matchesBefore || matchesAfter { score += 40 }
                    }
                }
            }
        }
        // Rule 2.
        for row in 0..<(size - 1) {
            for column in 0..<(size - 1) {
                let topLeft = row * size + column
                let bottomLeft = topLeft + size
                let colour = dark[topLeft]
                if dark[topLeft + 1] == colour, dark[bottomLeft] == colour, dark[bottomLeft + 1] == colour { score += 3 }
            }
        }
        // Rule 4: k full steps of 5 % away from 50 %, |dark/total − 1/2| ≥ k/20.
        let total = size * size
        let darkCount = dark.reduce(0) { $0 + ($1 ? 1 : 0) }
        score += abs(darkCount * 20 - total * 10) / total * 10
        return score
    }

    /// `penalty` of a row-major matrix such as `modules`.
    static func penalty(_ matrix: [[Bool]]) -> Int {
        penalty(matrix.flatMap { $0 }, size: matrix.count)
    }

    // MARK: SVG

    /// The symbol as an `<svg>` element for inline use in HTML: one `<path>` made of the runs of
    /// dark modules of each row, on a white square that includes the quiet zone. Colours are
    /// presentation attributes, not a `style` attribute, which the pages' CSP forbids.
    ///
    /// - Parameters:
    ///   - moduleSize: CSS pixels per module (width and height of the element; the `viewBox` is in
    ///     modules).
    ///   - quietZone: light modules around the symbol; ISO/IEC 18004 asks for four.
    ///   - title: accessible name of the image, in a `<title>` element.
    func svg(moduleSize: Int = 4, quietZone: Int = 4, title: String) -> String {
        let quiet = max(0, quietZone)
        let side = size + 2 * quiet
        let pixels = side * max(1, moduleSize)
        var path = ""
        for (row, line) in modules.enumerated() {
            var column = 0
            while column < size {
                guard line[column] else {
                    column += 1
                    continue
                }
                let start = column
                while column < size && line[column] { column += 1 }
                let width = column - start
                path += "M\(start + quiet) \(row + quiet)h\(width)v1h-\(width)z"
            }
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(pixels)\" height=\"\(pixels)\" viewBox=\"0 0 \(side) \(side)\""
            + " role=\"img\" shape-rendering=\"crispEdges\"><title>\(Self.xmlEscaped(title))</title>"
            + "<rect width=\"\(side)\" height=\"\(side)\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\"\(path)\"/></svg>"
    }

    /// `text` with the five XML special characters as entities, for element content and attributes.
    static func xmlEscaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Why a QR code could not be made.
struct QRCodeError: Error, Equatable, Sendable, CustomStringConvertible {
    enum Code: Sendable, Equatable {
        /// More bytes than version 20 (or the forced version) holds at the level.
        case tooLong
        /// A forced version outside 1–20.
        case unsupportedVersion
        /// A forced mask outside 0–7.
        case invalidMask
    }

    let code: Code

    init(_ code: Code) { self.code = code }

    var description: String {
        switch code {
        case .tooLong: "the data is too long for a QR code of version 1–20 at this error-correction level"
        case .unsupportedVersion: "QR code versions 1–20 only"
        case .invalidMask: "QR code data masks are 0–7"
        }
    }
}

extension QRCode {
    /// Bits appended most significant first, packed into bytes.
    fileprivate struct BitWriter {
        private(set) var bytes: [UInt8] = []
        private(set) var count = 0

        /// Appends the `count` low bits of `value`, most significant first.
        mutating func append(_ value: Int, count bitCount: Int) {
            for shift in stride(from: bitCount - 1, through: 0, by: -1) {
                if count % 8 == 0 { bytes.append(0) }
                if (value >> shift) & 1 == 1 { bytes[count / 8] |= 0x80 >> UInt8(count % 8) }
                count += 1
            }
        }
    }

    /// The symbol under construction: module colours, and which modules belong to function patterns
    /// (and so are neither data nor masked). Row-major, `row * size + column`.
    fileprivate struct Grid {
        let version: Int
        let size: Int
        var dark: [Bool]
        var isFunction: [Bool]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            dark = [Bool](repeating: false, count: size * size)
            isFunction = [Bool](repeating: false, count: size * size)
        }

        mutating func setFunction(row: Int, column: Int, _ isDark: Bool) {
            dark[row * size + column] = isDark
            isFunction[row * size + column] = true
        }

        /// Finder patterns with their separators, timing patterns, alignment patterns, version
        /// information, and the format-information area (reserved here, written for each mask) with
        /// the dark module.
        mutating func drawFunctionPatterns() {
            // Timing patterns (§7.3.5), row 6 and column 6; the finders below overwrite their ends.
            for k in 0..<size {
                setFunction(row: 6, column: k, k % 2 == 0)
                setFunction(row: k, column: 6, k % 2 == 0)
            }
            // Finder patterns (§7.3.2) and their light separators (§7.3.3).
            drawFinder(centreRow: 3, centreColumn: 3)
            drawFinder(centreRow: 3, centreColumn: size - 4)
            drawFinder(centreRow: size - 4, centreColumn: 3)
            // Alignment patterns (§7.3.6), except the three that would overlap the finders.
            let centres = QRCode.alignmentPatternCentres(version: version)
            if let first = centres.first, let last = centres.last {
                for row in centres {
                    for column in centres {
                        if (row == first && column == first) || (row == first && column == last) || (row == last && column == first) {
                            continue
                        }
                        drawAlignment(centreRow: row, centreColumn: column)
                    }
                }
            }
            // Format information area (§7.9.1) and the dark module; bits written per mask.
            drawFormatInformation(level: .medium, mask: 0)
            // Version information (§7.10), versions 7 and up.
            if version >= 7 {
                let bits = QRCode.versionBits(version: version)
                for i in 0..<18 {
                    let bit = (bits >> i) & 1 == 1
                    let a = size - 11 + i % 3
                    let b = i / 3
                    setFunction(row: b, column: a, bit)  // upper right, 6 columns × 3 rows
                    setFunction(row: a, column: b, bit)  // lower left, 3 rows × 6 columns
                }
            }
        }

        /// A 7 × 7 finder pattern centred on the given module, with the one-module light separator
        /// around it (clipped to the symbol).
        private mutating func drawFinder(centreRow: Int, centreColumn: Int) {
            for dr in -4...4 {
                for dc in -4...4 {
                    let row = centreRow + dr
                    let column = centreColumn + dc
                    guard (0..<size).contains(row), (0..<size).contains(column) else { continue }
                    let distance = max(abs(dr), abs(dc))  // 0–1 centre, 2 ring, 3 outer, 4 separator
                    setFunction(row: row, column: column, distance != 2 && distance != 4)
                }
            }
        }

        /// A 5 × 5 alignment pattern centred on the given module.
        private mutating func drawAlignment(centreRow: Int, centreColumn: Int) {
            for dr in -2...2 {
                for dc in -2...2 {
                    setFunction(row: centreRow + dr, column: centreColumn + dc, max(abs(dr), abs(dc)) != 1)
                }
            }
        }

        /// Both copies of the format information for `level` and `mask` (bit 0 the least
        /// significant), and the dark module at (4 × version + 9, 8).
        mutating func drawFormatInformation(level: QRCode.Level, mask: Int) {
            let bits = QRCode.formatBits(level: level, mask: mask)
            func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
            // Around the upper-left finder: bits 0–7 down column 8 (skipping the timing row),
            // bits 8–14 leftwards along row 8 (skipping the timing column).
            for i in 0...5 { setFunction(row: i, column: 8, bit(i)) }
            setFunction(row: 7, column: 8, bit(6))
            setFunction(row: 8, column: 8, bit(7))
            setFunction(row: 8, column: 7, bit(8))
            for i in 9..<15 { setFunction(row: 8, column: 14 - i, bit(i)) }
            // Bits 0–7 leftwards from the right edge along row 8, bits 8–14 up to the bottom edge in column 8.
            for i in 0..<8 { setFunction(row: 8, column: size - 1 - i, bit(i)) }
            for i in 8..<15 { setFunction(row: size - 15 + i, column: 8, bit(i)) }
            setFunction(row: size - 8, column: 8, true)
        }

        /// Places the codewords, most significant bit first, in two-module columns from the right
        /// edge, going up and down in turn and skipping the vertical timing pattern (§7.7.3).
        /// Modules left over (the remainder bits) stay light.
        mutating func placeCodewords(_ codewords: [UInt8]) {
            let bitCount = codewords.count * 8
            var index = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                let upward = (right + 1) & 2 == 0
                for step in 0..<size {
                    let row = upward ? size - 1 - step : step
                    for column in [right, right - 1] where !isFunction[row * size + column] {
                        if index < bitCount {
                            dark[row * size + column] = (codewords[index >> 3] >> UInt8(7 - (index & 7))) & 1 == 1
                            index += 1
                        }
                    }
                }
                right -= 2
            }
        }

        /// Inverts the data modules that `mask` selects.
        mutating func applyMask(_ mask: Int) {
            for row in 0..<size {
                for column in 0..<size where !isFunction[row * size + column] && QRCode.maskInverts(mask, row: row, column: column) {
                    dark[row * size + column].toggle()
                }
            }
        }
    }
}
