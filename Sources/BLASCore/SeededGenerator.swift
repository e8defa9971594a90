import Foundation

/// The one source of randomness in clipcv: xoshiro256** seeded through SplitMix64.
///
/// Every random choice (folds, LoRA init, shuffling, augmentation, dropout, bootstrap) takes a generator
/// derived from the run seed and the names of what it is for, so a job's randomness depends only on
/// (run seed, placement, fold, repeat) and never on which rank runs it or in what order.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var mixer = seed
        state = (SeededGenerator.splitMix(&mixer), SeededGenerator.splitMix(&mixer),
                 SeededGenerator.splitMix(&mixer), SeededGenerator.splitMix(&mixer))
    }

    /// A generator for one purpose, e.g. `SeededGenerator(seed: run, stream: "lora-init", placement, "fold=3")`:
    /// the components are hashed (FNV-1a, stable across runs and platforms) into the seed.
    public init(seed: UInt64, stream components: String...) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for component in components {
            for byte in component.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0xff) &* 0x100_0000_01b3  // separator, so ("ab","c") ≠ ("a","bc")
        }
        self.init(seed: hash)
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits (every Float in the range equally spaced).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal by Box–Muller (one value per call; the partner is discarded for simplicity of state).
    public mutating func nextNormal() -> Float {
        let u1 = max(nextUniformDouble(), 1e-300), u2 = nextUniformDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
