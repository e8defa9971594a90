import Foundation

/// The linear-probe baseline: logistic regression on frozen image features, as scikit-learn's
/// `make_pipeline(StandardScaler(), LogisticRegression(C=1.0))` fits it — features standardized with the training
/// cases' mean and (population) standard deviation, then minimize ½‖w‖² + C Σᵢ log(1 + exp(−yᵢ(w·xᵢ + b)))
/// (intercept not penalized), solved to convergence by Newton's method.
public struct LinearProbe: Sendable {
    public let mean: [Double]
    public let scale: [Double]
    public let weights: [Double]
    public let intercept: Double

    public init(features: [[Double]], labels: [Int], inverseRegularization c: Double = 1, maxIterations: Int = 100) throws {
        guard let dimension = features.first?.count, features.count == labels.count else {
            throw ProbeError(description: "linear probe: \(features.count) feature rows for \(labels.count) labels")
        }
        guard Set(labels) == [0, 1] else { throw ProbeError(description: "linear probe: training labels must contain both classes 0 and 1") }
        let n = Double(features.count)
        let mean = (0..<dimension).map { j in features.reduce(0) { $0 + $1[j] } / n }
        let scale = (0..<dimension).map { j -> Double in
            let variance = features.reduce(0) { $0 + ($1[j] - mean[j]) * ($1[j] - mean[j]) } / n
            return variance > 0 ? variance.squareRoot() : 1  // StandardScaler leaves constant features unscaled
        }
        let x = features.map { row in (0..<dimension).map { (row[$0] - mean[$0]) / scale[$0] } + [1] }  // last column: intercept
        let y = labels.map { $0 == 1 ? 1.0 : -1.0 }
        let size = dimension + 1
        var w = [Double](repeating: 0, count: size)
        for _ in 0..<maxIterations {
            // Gradient and Hessian of the objective.
            var gradient = w.enumerated().map { $0.offset < dimension ? $0.element : 0 }
            var hessian = [Double](repeating: 0, count: size * size)
            for j in 0..<dimension { hessian[j * size + j] = 1 }
            for (row, label) in zip(x, y) {
                let margin = label * zip(row, w).reduce(0) { $0 + $1.0 * $1.1 }
                let sigma = 1 / (1 + exp(margin))          // σ(−margin)
                for j in 0..<size { gradient[j] -= c * label * sigma * row[j] }
                let curvature = c * sigma * (1 - sigma)
                for j in 0..<size where row[j] != 0 {
                    let scaled = curvature * row[j]
                    for k in 0..<size { hessian[j * size + k] += scaled * row[k] }
                }
            }
            let stepDirection = try solveSymmetricPositiveDefinite(hessian, gradient, size: size)
            for j in 0..<size { w[j] -= stepDirection[j] }
            if stepDirection.map(abs).max()! < 1e-10 { break }
        }
        self.mean = mean
        self.scale = scale
        self.weights = Array(w[0..<dimension])
        self.intercept = w[dimension]
    }

    /// P(label 1 | features).
    public func probability(_ features: [Double]) -> Double {
        let z = zip(features.indices, features).reduce(intercept) { $0 + weights[$1.0] * ($1.1 - mean[$1.0]) / scale[$1.0] }
        return 1 / (1 + exp(-z))
    }
}

public struct ProbeError: Error, CustomStringConvertible {
    public let description: String
}

/// Solves A x = b for symmetric positive definite A (row-major, size × size) by Cholesky factorization.
func solveSymmetricPositiveDefinite(_ matrix: [Double], _ rhs: [Double], size: Int) throws -> [Double] {
    var l = [Double](repeating: 0, count: size * size)
    for i in 0..<size {
        for j in 0...i {
            var sum = matrix[i * size + j]
            for k in 0..<j { sum -= l[i * size + k] * l[j * size + k] }
            if i == j {
                guard sum > 0 else { throw ProbeError(description: "linear probe: Hessian not positive definite") }
                l[i * size + i] = sum.squareRoot()
            } else {
                l[i * size + j] = sum / l[j * size + j]
            }
        }
    }
    var z = rhs
    for i in 0..<size {
        for k in 0..<i { z[i] -= l[i * size + k] * z[k] }
        z[i] /= l[i * size + i]
    }
    for i in stride(from: size - 1, through: 0, by: -1) {
        for k in (i + 1)..<size { z[i] -= l[k * size + i] * z[k] }
        z[i] /= l[i * size + i]
    }
    return z
}
