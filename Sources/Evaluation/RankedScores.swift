/// Cases sorted by score, grouped into runs of equal scores, ranked once and shared by the AUC, bootstrap AUCs,
/// DeLong's placements and the ROC points. The AUC is computed here only: Mann–Whitney U with ties counted half,
/// which is exactly the trapezoidal area under scikit-learn's ROC curve.
///
/// Everything is counted in integers (twice the placements, so ties stay whole), and the AUC is one division at
/// the end: it is the correctly rounded value of the exact fraction.
struct RankedScores {
    let isPositive: [Bool]
    let scores: [Double]
    /// Case indices in ascending score order.
    let order: [Int]
    /// Boundaries of the runs of equal scores in `order`: run k is `groupBounds[k]..<groupBounds[k + 1]`.
    let groupBounds: [Int]
    let positiveCount: Int
    var negativeCount: Int { isPositive.count - positiveCount }

    /// `labels` are 0/1 and `scores` finite (checked by the public callers).
    init(labels: [Int], scores: [Double]) {
        precondition(labels.count == scores.count && !labels.isEmpty)
        isPositive = labels.map { $0 == 1 }
        self.scores = scores
        order = scores.indices.sorted { scores[$0] < scores[$1] }
        var bounds = [0]
        for k in 1..<order.count where scores[order[k]] != scores[order[k - 1]] { bounds.append(k) }
        bounds.append(order.count)
        groupBounds = bounds
        positiveCount = isPositive.lazy.filter { $0 }.count
    }

    /// For each case (in the callers' order), twice its placement among the other class: a positive gets
    /// 2·(negatives scored lower) + (negatives scored equal), a negative 2·(positives scored higher) + (positives
    /// scored equal). `counts` weights each case (bootstrap multiplicities); nil weighs every case once.
    func twicePlacements(counts: [Int]? = nil) -> [Int] {
        var placements = [Int](repeating: 0, count: order.count)
        let positives = counts.map { counts in isPositive.indices.reduce(0) { $0 + (isPositive[$1] ? counts[$1] : 0) } }
            ?? positiveCount
        var negativesBelow = 0, positivesBelow = 0
        for group in 0..<(groupBounds.count - 1) {
            let run = groupBounds[group]..<groupBounds[group + 1]
            var positivesEqual = 0, negativesEqual = 0
            for k in run {
                let index = order[k], weight = counts?[index] ?? 1
                if isPositive[index] { positivesEqual += weight } else { negativesEqual += weight }
            }
            let positivesAbove = positives - positivesBelow - positivesEqual
            for k in run {
                let index = order[k]
                placements[index] = isPositive[index] ? 2 * negativesBelow + negativesEqual : 2 * positivesAbove + positivesEqual
            }
            negativesBelow += negativesEqual
            positivesBelow += positivesEqual
        }
        return placements
    }

    /// P(score of a random positive > score of a random negative) + ½ P(equal), over the cases weighted by
    /// `counts`; nil when either class is absent (scikit-learn returns NaN with a warning there).
    func areaUnderCurve(counts: [Int]? = nil) -> Double? {
        let placements = twicePlacements(counts: counts)
        var twiceU = 0, positives = 0, negatives = 0
        for index in isPositive.indices {
            let weight = counts?[index] ?? 1
            if isPositive[index] {
                twiceU += weight * placements[index]
                positives += weight
            } else {
                negatives += weight
            }
        }
        guard positives > 0, negatives > 0 else { return nil }
        return Double(twiceU) / (2 * Double(positives) * Double(negatives))
    }
}
