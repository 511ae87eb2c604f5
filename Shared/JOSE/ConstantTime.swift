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

    public static func equals(_ lhs: String, _ rhs: String) -> Bool {
        equals(Array(lhs.utf8), Array(rhs.utf8))
    }
}
