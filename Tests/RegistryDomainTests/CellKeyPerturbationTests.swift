import RegistryDomain
import Testing

@Suite("Cell-key perturbation")
struct CellKeyPerturbationTests {
    @Test("the table: every key maps to −D..+D, symmetric so the mean is zero, the centre most likely; D from 1 to 5")
    func table() {
        for d in 1...CellKeyPerturbation.largestMaximum {
            let c = CellKeyPerturbation(maximum: d)
            let all = (0..<CellKeyPerturbation.keySpace).map { c.perturbation(cellKey: $0) }
            #expect(all.allSatisfy { abs($0) <= d } && Set(all) == Set(-d...d), "D = \(d)")
            #expect(all.reduce(0, +) == 0, "D = \(d): unbiased over the keys")
            let counts = Dictionary(grouping: all, by: { $0 }).mapValues(\.count)
            #expect((1...d).allSatisfy { counts[$0] == counts[-$0] && counts[$0 - 1]! >= counts[$0]! }, "D = \(d): \(counts)")
        }
        // D = 2: weights 1, 4, 9, 4, 1 of 19 share out the 256 keys as 13, 54, 122, 54, 13 (a 5 % chance of ±2).
        let counts = Dictionary(grouping: (0..<256).map { CellKeyPerturbation().perturbation(cellKey: $0) }, by: { $0 }).mapValues(\.count)
        #expect(counts == [-2: 13, -1: 54, 0: 122, 1: 54, 2: 13])
        // Keys wrap: a sum of record keys is read modulo 256, negative or not.
        #expect(CellKeyPerturbation().perturbation(cellKey: 300) == CellKeyPerturbation().perturbation(cellKey: 44))
        #expect(CellKeyPerturbation.recordKey(hash: -1) == 255 && CellKeyPerturbation.recordKey(hash: 256 * 7 + 3) == 3)
    }

    @Test("published counts: zero stays zero, nothing else becomes zero, within D, the same records give the same value")
    func publish() {
        let c = CellKeyPerturbation(maximum: 2)
        for key in 0..<256 {
            #expect(c.publish(0, keySum: key) == 0)
            for n in 1...30 {
                let v = c.publish(n, keySum: key)
                #expect(v >= 1 && abs(v - n) <= 2)
                #expect(v == c.publish(n, keySum: key + 256))
            }
        }
    }

    @Test("the registry setting: 1 to 5, refusals say what is allowed")
    func setting() throws {
        #expect(try CellKeyPerturbation.parse(nil).maximum == 2)
        #expect(try CellKeyPerturbation.parse("3").maximum == 3)
        for bad in ["0", "6", "two", ""] {
            #expect(throws: RegistryError.self) { try CellKeyPerturbation.parse(bad) }
        }
    }
}
