import Foundation

/// CLIP's quick GELU `x · σ(1.702 x)`.
///   forward:  y = x · s,  s = σ(1.702 x)
///   backward: dx += dy · (s + 1.702 · x · s · (1 − s))
public enum QuickGELU {
    public static func forward(output y: Tensor, input x: Tensor) throws {
        try requireSameShape(y, x, "quickGELU")
        let out = y.pointer, inp = x.pointer
        forEachRange(x.count) { range in
            var i = range.lowerBound
            while i + lanes <= range.upperBound {
                let v = load(inp + i)
                store(v * sigmoid(v), out + i)
                i += lanes
            }
            while i < range.upperBound { let v = inp[i]; out[i] = v * sigmoid(v); i += 1 }
        }
    }

    /// `dx += dy · f′(x)`, or with `accumulating` false `dx = dy · f′(x)`, which may then run in place (dx = dy).
    public static func backward(inputGradient dx: Tensor, outputGradient dy: Tensor, input x: Tensor, accumulating: Bool = true) throws {
        try requireSameShape(dx, x, "quickGELU backward")
        try requireSameShape(dy, x, "quickGELU backward")
        let dInp = dx.pointer, dOut = dy.pointer, inp = x.pointer
        forEachRange(x.count) { range in
            var i = range.lowerBound
            while i + lanes <= range.upperBound {
                let v = load(inp + i), s = sigmoid(v)
                let local = s + FloatVector(repeating: 1.702) * v * s * (FloatVector(repeating: 1) - s)
                let gradient = load(dOut + i) * local
                store(accumulating ? load(dInp + i) + gradient : gradient, dInp + i)
                i += lanes
            }
            while i < range.upperBound {
                let v = inp[i], s = sigmoid(v)
                let gradient = dOut[i] * (s + 1.702 * v * s * (1 - s))
                dInp[i] = accumulating ? dInp[i] + gradient : gradient
                i += 1
            }
        }
    }

    @inline(__always) static func sigmoid(_ v: FloatVector) -> FloatVector {
        FloatVector(repeating: 1) / (FloatVector(repeating: 1) + vectorExp(FloatVector(repeating: -1.702) * v))
    }
    @inline(__always) static func sigmoid(_ v: Float) -> Float { 1 / (1 + scalarExp(-1.702 * v)) }
}

/// Exact GELU `x · Φ(x) = x/2 · (1 + erf(x/√2))` (checkpoints with `hidden_act: gelu`).
///   backward: dx += dy · (Φ(x) + x · φ(x)),  φ the standard normal density.
/// `erf` has no vector form here, so this kernel is scalar; CLIP checkpoints use quick GELU.
public enum GELU {
    public static func forward(output y: Tensor, input x: Tensor) throws {
        try requireSameShape(y, x, "GELU")
        let out = y.pointer, inp = x.pointer
        forEachRange(x.count) { range in
            for i in range {
                let v = inp[i]
                out[i] = 0.5 * v * (1 + erff(v * Float(0.5).squareRoot()))
            }
        }
    }

    /// `dx += dy · f′(x)`, or with `accumulating` false `dx = dy · f′(x)`, which may then run in place (dx = dy).
    public static func backward(inputGradient dx: Tensor, outputGradient dy: Tensor, input x: Tensor, accumulating: Bool = true) throws {
        try requireSameShape(dx, x, "GELU backward")
        try requireSameShape(dy, x, "GELU backward")
        let dInp = dx.pointer, dOut = dy.pointer, inp = x.pointer
        let inverseSqrtTwoPi: Float = 0.398_942_28
        forEachRange(x.count) { range in
            for i in range {
                let v = inp[i]
                let cdf = 0.5 * (1 + erff(v * Float(0.5).squareRoot()))
                let pdf = inverseSqrtTwoPi * expf(-0.5 * v * v)
                let gradient = dOut[i] * (cdf + v * pdf)
                dInp[i] = accumulating ? dInp[i] + gradient : gradient
            }
        }
    }
}

/// Residual connection `y = a + b`; backward passes `dy` unchanged to both: `da += dy`, `db += dy`.
public enum Residual {
    public static func forward(output y: Tensor, _ a: Tensor, _ b: Tensor) throws {
        try requireSameShape(y, a, "residual")
        try requireSameShape(b, a, "residual")
        let out = y.pointer, pa = a.pointer, pb = b.pointer
        forEachRange(a.count) { range in
            var i = range.lowerBound
            while i + lanes <= range.upperBound { store(load(pa + i) + load(pb + i), out + i); i += lanes }
            while i < range.upperBound { out[i] = pa[i] + pb[i]; i += 1 }
        }
    }

    /// `gradient += dy` (call once for each branch that needs it).
    public static func backward(accumulating gradient: Tensor, outputGradient dy: Tensor) throws {
        try requireSameShape(gradient, dy, "residual backward")
        let g = gradient.pointer, d = dy.pointer
        forEachRange(dy.count) { range in
            var i = range.lowerBound
            while i + lanes <= range.upperBound { store(load(g + i) + load(d + i), g + i); i += lanes }
            while i < range.upperBound { g[i] += d[i]; i += 1 }
        }
    }
}

/// An elementwise kernel's loop over `0..<count`, split over the worker team at lane-aligned cuts.
@inline(__always)
func forEachRange(_ count: Int, _ body: (Range<Int>) -> Void) {
    WorkerTeam.shared.split(count, grain: WorkerTeam.elementGrain, alignment: lanes, body)
}

func requireSameShape(_ a: Tensor, _ b: Tensor, _ name: String) throws {
    try require(a.count == b.count && a.lastDimension == b.lastDimension,
                "\(name): shapes differ: \(a.shape) vs \(b.shape)")
}
