/// The one comparison used for every secret, verifier, code, ticket and hash in NeoSec.
///
/// Runs in time that depends only on the lengths, never on where the inputs differ. Lengths are
/// not secret here: callers compare fixed-length digests or values whose length is public.
public enum ConstantTime {
    public static func equals<A: Collection, B: Collection>(_ lhs: A, _ rhs: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        if lhs.count == rhs.count {
            for (l, r) in zip(lhs, rhs) { difference |= l ^ r }
        } else {
            // Still touch every byte of the longer input so that timing does not reveal it early.
            for byte in lhs { difference |= byte & 0 }
            for byte in rhs { difference |= byte & 0 }
        }
        return difference == 0
    }

    /// The same for byte arrays, without generic dispatch on the hot path.
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        let length = max(lhs.count, rhs.count)
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        lhs.withUnsafeBufferPointer { l in
            rhs.withUnsafeBufferPointer { r in
                // Walk the longer length; out-of-range positions compare a zero byte with itself.
                for index in 0..<length {
                    let a = index < l.count ? l[index] : 0
                    let b = index < r.count ? r[index] : 0
                    difference |= a ^ b
                }
            }
        }
        return difference == 0
    }

    public static func equals(_ lhs: String, _ rhs: String) -> Bool {
        equals(Array(lhs.utf8), Array(rhs.utf8))
    }
}
