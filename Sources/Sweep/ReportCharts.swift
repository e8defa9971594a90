import Evaluation
import Foundation

/// The report's two plots as standalone SVG: pooled ROC curves per placement, and AUC by placement with error bars.
extension SweepReport {
    /// Pooled out-of-fold ROC curves (repeat 0) of every method, legend sorted by pooled AUC, with the chance diagonal.
    public func rocChart() -> String {
        let curves = methods.compactMap { method -> (method: Method, roc: ROCCurve, auc: Double?)? in
            guard let roc = method.roc else { return nil }
            return (method, roc, method.metrics?.pooled.first { $0.repeat == 0 }?.metrics.auc)
        }.sorted { ($0.auc ?? -1) > ($1.auc ?? -1) }
        let rowHeight = min(18.0, 480.0 / Double(max(1, curves.count)))
        var svg = SVG(width: 900, height: max(580, 90 + rowHeight * Double(curves.count)))
        let plot = Frame(left: 80, top: 50, width: 440, height: 440)
        svg.text(plot.left + plot.width / 2, 28, "Pooled out-of-fold ROC" + (plan.repetitions > 1 ? " (repeat 0 of \(plan.repetitions))" : ""),
                 size: 16, anchor: "middle", weight: "bold")
        svg.axes(plot, xRange: 0...1, yRange: 0...1, ticks: stride(from: 0.0, through: 1.0, by: 0.2).map { $0 },
                 xLabel: "False positive rate (1 − specificity)", yLabel: "True positive rate (sensitivity)")
        svg.line(plot.x(0, in: 0...1), plot.y(0, in: 0...1), plot.x(1, in: 0...1), plot.y(1, in: 0...1),
                 stroke: "#999999", width: 1, dash: "4 4")
        svg.text(plot.x(0.62, in: 0...1), plot.y(0.58, in: 0...1), "chance", size: 11, fill: "#999999", rotate: -45)

        for (index, curve) in curves.enumerated().reversed() {  // best drawn last, on top
            let style = curveStyle(curve.method, rank: index)
            let points = zip(curve.roc.falsePositiveRates, curve.roc.truePositiveRates).map {
                (plot.x($0.0, in: 0...1), plot.y($0.1, in: 0...1))
            }
            svg.polyline(points, stroke: style.color, width: style.width, dash: style.dash)
        }
        svg.text(560, 50, "placement (pooled AUC)", size: 12, weight: "bold")
        for (index, curve) in curves.enumerated() {
            let style = curveStyle(curve.method, rank: index)
            let y = 50 + rowHeight * Double(index + 1)
            svg.line(560, y - 4, 590, y - 4, stroke: style.color, width: style.width, dash: style.dash)
            let label = curve.method.name + (curve.method.kind == .fineTune ? "" : " (baseline)")
            svg.text(598, y, label + (curve.auc.map { String(format: " (%.3f)", $0) } ?? ""), size: min(12, rowHeight - 2))
        }
        return svg.document
    }

    /// Mean AUC over folds × repeats with ±1 std error bars, placements in plan order, then the baselines; the
    /// best placement highlighted, chance (0.5) dashed.
    public func aucChart() -> String {
        let count = methods.count
        var svg = SVG(width: max(640, 120 + 38 * Double(count)), height: 520)
        let plot = Frame(left: 80, top: 50, width: svg.width - 110, height: 320)
        let means = methods.compactMap { $0.metrics?.summary.auc }
        let lowest = min(0.5, means.map { $0.mean - $0.std }.min() ?? 0.5)
        let range = max(0, (lowest * 10).rounded(.down) / 10)...1.0
        let pairs = plan.repetitions > 1 ? "\(plan.folds) folds × \(plan.repetitions) repeats" : "\(plan.folds) folds"
        svg.text(plot.left + plot.width / 2, 28, "AUC by placement (mean ± std over \(pairs))",
                 size: 16, anchor: "middle", weight: "bold")
        svg.axes(plot, xRange: 0...Double(count), yRange: range,
                 ticks: stride(from: range.lowerBound, through: 1.0 + 1e-9, by: 0.1).map { $0 },
                 xLabel: nil, yLabel: "AUC", xTicks: false)
        svg.line(plot.left, plot.y(0.5, in: range), plot.left + plot.width, plot.y(0.5, in: range), stroke: "#999999", width: 1, dash: "4 4")
        svg.text(plot.left + plot.width - 4, plot.y(0.5, in: range) - 4, "chance", size: 11, anchor: "end", fill: "#999999")
        if let firstBaseline = methods.firstIndex(where: { $0.kind != .fineTune }), firstBaseline > 0 {
            let x = plot.x(Double(firstBaseline), in: 0...Double(count))
            svg.line(x, plot.top, x, plot.top + plot.height, stroke: "#bbbbbb", width: 1, dash: "2 3")
            svg.text(x + 4, plot.top + 14, "baselines", size: 11, fill: "#666666")
        }
        for (index, method) in methods.enumerated() {
            let x = plot.x(Double(index) + 0.5, in: 0...Double(count))
            let color = method.name == best ? "#d62728" : method.kind == .fineTune ? "#1f77b4" : "#555555"
            if let auc = method.metrics?.summary.auc {
                let high = plot.y(min(auc.mean + auc.std, range.upperBound), in: range)
                let low = plot.y(max(auc.mean - auc.std, range.lowerBound), in: range)
                svg.line(x, high, x, low, stroke: color, width: 1.5)
                svg.line(x - 5, high, x + 5, high, stroke: color, width: 1.5)
                svg.line(x - 5, low, x + 5, low, stroke: color, width: 1.5)
                let y = plot.y(auc.mean, in: range)
                if method.kind == .fineTune { svg.circle(x, y, radius: 4.5, fill: color) } else { svg.diamond(x, y, size: 6, fill: color) }
            } else {
                svg.text(x, plot.top + plot.height - 6, "n/a", size: 10, anchor: "middle", fill: "#999999")
            }
            svg.text(x, plot.top + plot.height + 14, method.name, size: 11, anchor: "end",
                     weight: method.name == best ? "bold" : "normal", rotate: -45)
        }
        svg.text(plot.left, svg.height - 12, "● placement · ◆ baseline · red: best placement by mean AUC · bars: ±1 std (ddof 1)",
                 size: 11, fill: "#444444")
        return svg.document
    }

    private func curveStyle(_ method: Method, rank: Int) -> (color: String, width: Double, dash: String?) {
        switch method.kind {
        case .zeroShot: return ("#000000", 1.5, "6 3")
        case .linearProbe: return ("#000000", 1.5, "1.5 2.5")
        case .fineTune:
            let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
            let position = plan.placements.firstIndex(of: method.name) ?? rank
            let dashes: [String?] = [nil, "8 3", "3 3"]
            return (palette[position % palette.count], method.name == best ? 3 : 1.5, dashes[(position / palette.count) % dashes.count])
        }
    }
}

/// A plot area in SVG coordinates, mapping data values to pixels.
private struct Frame {
    let left, top, width, height: Double
    func x(_ value: Double, in range: ClosedRange<Double>) -> Double {
        left + (value - range.lowerBound) / (range.upperBound - range.lowerBound) * width
    }
    func y(_ value: Double, in range: ClosedRange<Double>) -> Double {
        top + height - (value - range.lowerBound) / (range.upperBound - range.lowerBound) * height
    }
}

/// Just enough SVG for the two plots; every text is XML-escaped.
private struct SVG {
    let width: Double
    let height: Double
    private var elements: [String] = []

    init(width: Double, height: Double) { self.width = width; self.height = height }

    var document: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" \
        font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(n(width))" height="\(n(height))" fill="#ffffff"/>
        \(elements.joined(separator: "\n"))
        </svg>

        """
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double, dash: String? = nil) {
        elements.append(#"<line x1="\#(n(x1))" y1="\#(n(y1))" x2="\#(n(x2))" y2="\#(n(y2))" stroke="\#(stroke)" stroke-width="\#(n(width))"\#(dashAttribute(dash))/>"#)
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double, dash: String?) {
        let list = points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ")
        elements.append(#"<polyline points="\#(list)" fill="none" stroke="\#(stroke)" stroke-width="\#(n(width))" stroke-linejoin="round"\#(dashAttribute(dash))/>"#)
    }

    mutating func circle(_ x: Double, _ y: Double, radius: Double, fill: String) {
        elements.append(#"<circle cx="\#(n(x))" cy="\#(n(y))" r="\#(n(radius))" fill="\#(fill)"/>"#)
    }

    mutating func diamond(_ x: Double, _ y: Double, size: Double, fill: String) {
        let points = [(x, y - size), (x + size, y), (x, y + size), (x - size, y)].map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ")
        elements.append(#"<polygon points="\#(points)" fill="\#(fill)"/>"#)
    }

    mutating func text(_ x: Double, _ y: Double, _ content: String, size: Double, anchor: String = "start",
                       fill: String = "#000000", weight: String = "normal", rotate: Double? = nil) {
        let transform = rotate.map { #" transform="rotate(\#(n($0)) \#(n(x)) \#(n(y)))""# } ?? ""
        elements.append(#"<text x="\#(n(x))" y="\#(n(y))" font-size="\#(n(size))" text-anchor="\#(anchor)" fill="\#(fill)" font-weight="\#(weight)"\#(transform)>\#(escape(content))</text>"#)
    }

    /// Frame, grid lines and tick labels at `ticks` (on both axes unless `xTicks` is false), axis labels.
    mutating func axes(_ frame: Frame, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, ticks: [Double],
                       xLabel: String?, yLabel: String, xTicks: Bool = true) {
        for tick in ticks where yRange.contains(tick) {
            let y = frame.y(tick, in: yRange)
            line(frame.left, y, frame.left + frame.width, y, stroke: "#e5e5e5", width: 1)
            text(frame.left - 8, y + 4, String(format: "%.1f", tick), size: 11, anchor: "end")
        }
        if xTicks {
            for tick in ticks where xRange.contains(tick) {
                let x = frame.x(tick, in: xRange)
                line(x, frame.top, x, frame.top + frame.height, stroke: "#e5e5e5", width: 1)
                text(x, frame.top + frame.height + 18, String(format: "%.1f", tick), size: 11, anchor: "middle")
            }
        }
        elements.append(##"<rect x="\##(n(frame.left))" y="\##(n(frame.top))" width="\##(n(frame.width))" height="\##(n(frame.height))" fill="none" stroke="#333333" stroke-width="1"/>"##)
        if let xLabel { text(frame.left + frame.width / 2, frame.top + frame.height + 42, xLabel, size: 13, anchor: "middle") }
        text(frame.left - 48, frame.top + frame.height / 2, yLabel, size: 13, anchor: "middle", rotate: -90)
    }

    private func dashAttribute(_ dash: String?) -> String { dash.map { #" stroke-dasharray="\#($0)""# } ?? "" }
    private func n(_ value: Double) -> String { String(format: "%.2f", value) }
    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
