import Foundation

/// Lane width of the elementwise kernels: 8 floats = one AVX2 register.
public typealias FloatVector = SIMD8<Float>
let lanes = FloatVector.scalarCount

/// `exp(x)` for eight lanes at once, accurate to ~2 ulp (Cephes `expf`: range reduction by ln 2 and a
/// degree-6 polynomial). libm's `expf` cannot be vectorized by the compiler; this can.
@inline(__always)
public func vectorExp(_ input: FloatVector) -> FloatVector {
    // Clamp so 2ⁿ stays a normal float (the stdlib's pointwiseMin/Max are not inlined: 10× slower than masks).
    var x = input
    x.replace(with: FloatVector(repeating: -87.33), where: x .< FloatVector(repeating: -87.33))
    x.replace(with: FloatVector(repeating: 88.37), where: x .> FloatVector(repeating: 88.37))
    // n = round(x / ln 2) by the 1.5·2²³ trick: the sum's low mantissa bits hold n.
    let magic = FloatVector(repeating: 12_582_912)
    let shifted = x * FloatVector(repeating: 1.442_695_04) + magic
    let n = shifted - magic
    var r = x - n * FloatVector(repeating: 0.693_359_375)
    r = r - n * FloatVector(repeating: -2.121_944_4e-4)
    var p = FloatVector(repeating: 1.987_569_15e-4)
    p = p * r + FloatVector(repeating: 1.398_199_95e-3)
    p = p * r + FloatVector(repeating: 8.333_451_9e-3)
    p = p * r + FloatVector(repeating: 4.166_579_59e-2)
    p = p * r + FloatVector(repeating: 1.666_666_55e-1)
    p = p * r + FloatVector(repeating: 5.000_000_12e-1)
    let y = p * r * r + r + FloatVector(repeating: 1)
    // Multiply by 2ⁿ by adding n to the exponent field.
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let scaled = unsafeBitCast(y, to: SIMD8<Int32>.self) &+ (nBits &<< 23)
    return unsafeBitCast(scaled, to: FloatVector.self)
}

/// Scalar `exp` with exactly the vector kernel's rounding, for loop tails (so results never depend on
/// where a row happens to split into vectors).
@inline(__always)
public func scalarExp(_ x: Float) -> Float { vectorExp(FloatVector(repeating: x))[0] }

/// Σ pointer[0..<count], accumulated in eight lanes then folded.
@inline(__always)
func vectorSum(_ pointer: UnsafePointer<Float>, _ count: Int) -> Float {
    var accumulator = FloatVector()
    var i = 0
    while i + lanes <= count {
        accumulator += UnsafeRawPointer(pointer + i).loadUnaligned(as: FloatVector.self)
        i += lanes
    }
    var total = accumulator.sum()
    while i < count { total += pointer[i]; i += 1 }
    return total
}

/// Σ a[i]·b[i].
@inline(__always)
func vectorDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var accumulator = FloatVector()
    var i = 0
    while i + lanes <= count {
        accumulator += UnsafeRawPointer(a + i).loadUnaligned(as: FloatVector.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: FloatVector.self)
        i += lanes
    }
    var total = accumulator.sum()
    while i < count { total += a[i] * b[i]; i += 1 }
    return total
}

@inline(__always)
func load(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

@inline(__always)
func store(_ value: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatVector.self)
}
