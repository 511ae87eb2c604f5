import JOSE
import ServiceKit
import Testing

/// Every code, token, secret and `jti` comes from `RandomToken`: its output must have the
/// length asked for and must not repeat.
@Suite("Random bytes and tokens")
struct RandomTokenTests {
    @Test(arguments: [0, 1, 7, 8, 9, 16, 32, 255, 256, 257, 1000])
    func lengthIsExact(count: Int) {
        #expect(RandomToken.randomBytes(count).count == count)
        #expect(Base64URL.decodeBytes(RandomToken.make(bytes: count))?.count == count)
    }

    @Test func outputsDoNotRepeatAndUseEveryByteValue() {
        var seen = Set<[UInt8]>()
        var values = Set<UInt8>()
        for _ in 0..<2000 {
            let bytes = RandomToken.randomBytes(32)
            #expect(seen.insert(bytes).inserted)
            values.formUnion(bytes)
        }
        // 64 000 bytes: a generator stuck on part of the range (or on zeros) would show here.
        #expect(values.count == 256)
        #expect(Set((0..<1000).map { _ in RandomToken.make(bytes: 16) }).count == 1000)
    }
}
