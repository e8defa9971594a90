import BLASCore
import Evaluation
import Foundation

/// The aggregated result of a sweep, computed from its plan and the records of `results.jsonl` alone, so
/// `clipcv report RUNDIR` rebuilds exactly what the sweep wrote. Depends only on the records' scores, never on
/// which rank ran what: predictions.csv, metrics.csv and every metric are identical for any rank count and after
/// any resume (only the training times differ between runs).
public struct SweepReport: Sendable {
    /// A placement or baseline: its metrics over folds × repeats and its comparison with the best placement.
    public struct Method: Sendable {
        public let name: String
        public let kind: SweepJob.Kind
        public let plannedJobs: Int
        public let finishedJobs: Int
        /// Nil when none of its jobs finished.
        public let metrics: CrossValidationMetrics?
        /// DeLong's test of this method's pooled AUC against the best placement's, per repeat, on their common
        /// cases (empty for the best placement itself, or when undefined).
        public let comparisons: [Comparison]
        /// Seconds of its finished jobs (training and scoring), in plan order.
        public let jobSeconds: [Double]
        /// Pooled out-of-fold ROC curve of repeat 0 (nil without both classes).
        public let roc: ROCCurve?
    }

    public struct Comparison: Codable, Sendable {
        public let repetition: Int
        /// Cases both methods scored in this repeat.
        public let cases: Int
        public let auc: Double
        public let bestAUC: Double
        public let z: Double?
        public let pValue: Double?

        enum CodingKeys: String, CodingKey { case repetition = "repeat", cases = "n", auc, bestAUC = "best_auc", z, pValue = "p_value" }
    }

    public let plan: SweepPlan
    /// Placements in plan order, then the baselines.
    public let methods: [Method]
    /// The placement with the highest mean AUC over folds × repeats (ties: the earlier in the plan).
    public let best: String?
    /// Jobs whose latest record is a failure, and jobs with no record at all.
    public let failures: [JobRecord]
    public let missing: [SweepJob]
    public let threshold: Double
    public let bootstrapResamples: Int
    /// The latest finished record of each job, in plan order.
    let finished: [JobRecord]

    /// - Parameters:
    ///   - threshold: a case is predicted 1 iff its score > threshold (accuracy, sensitivity, specificity).
    ///   - bootstrapResamples: for the pooled AUC's 95% CI; the bootstrap of each method is seeded from the run
    ///     seed and the method's name, so adding a placement does not change another's interval.
    public init(plan: SweepPlan, records: [JobRecord], threshold: Double = 0.5, bootstrapResamples: Int = 2000) throws {
        self.plan = plan
        self.threshold = threshold
        self.bootstrapResamples = bootstrapResamples
        let latest = RunDirectory.latest(records)
        let finished = plan.jobs.compactMap { latest[$0.index] }.filter { $0.status == .ok }
        self.finished = finished
        failures = plan.jobs.compactMap { latest[$0.index] }.filter { $0.status == .failed }
        missing = plan.jobs.filter { latest[$0.index] == nil }

        var metrics: [String: CrossValidationMetrics] = [:]
        var predictions: [String: [Prediction]] = [:]
        for name in plan.methods {
            let records = finished.filter { $0.job.placement == name }
            predictions[name] = try records.flatMap { record in
                try (record.outcome?.scores ?? []).map {
                    try Prediction(caseID: $0.caseID, label: $0.label, score: $0.score, fold: record.job.fold, repeat: record.job.repetition)
                }
            }
            guard !predictions[name]!.isEmpty else { continue }
            var generator = SeededGenerator(seed: plan.seed, stream: "report-bootstrap", name)
            metrics[name] = try CrossValidationMetrics(predictions: predictions[name]!, threshold: threshold,
                                                       bootstrapResamples: bootstrapResamples, using: &generator)
        }
        var best: String?
        for name in plan.placements {
            guard let auc = metrics[name]?.summary.auc?.mean else { continue }
            if best.map({ auc > metrics[$0]!.summary.auc!.mean }) ?? true { best = name }
        }
        self.best = best
        methods = plan.methods.map { name in
            let kind = plan.jobs.first { $0.placement == name }!.kind
            let comparisons = best.flatMap { best in
                best == name ? nil : SweepReport.compare(predictions[name]!, with: predictions[best]!, repetitions: plan.repetitions)
            } ?? []
            let repeatZero = predictions[name]!.filter { $0.repeat == 0 }
            let roc = repeatZero.isEmpty ? nil : try? ROCCurve(labels: repeatZero.map(\.label), scores: repeatZero.map(\.score))
            let records = finished.filter { $0.job.placement == name }
            return Method(name: name, kind: kind, plannedJobs: plan.jobs.filter { $0.placement == name }.count,
                          finishedJobs: records.count, metrics: metrics[name], comparisons: comparisons,
                          jobSeconds: records.map(\.seconds), roc: roc)
        }
    }

    /// The report of a run directory, from its plan.json and results.jsonl.
    public init(runDirectory: URL, threshold: Double = 0.5, bootstrapResamples: Int = 2000) throws {
        let plan = try RunDirectory.readPlan(in: runDirectory)
        try self.init(plan: plan, records: try RunDirectory.readRecords(in: runDirectory, plan: plan), threshold: threshold,
                      bootstrapResamples: bootstrapResamples)
    }

    /// DeLong per repeat on the cases both scored (all of them, unless jobs failed).
    private static func compare(_ method: [Prediction], with best: [Prediction], repetitions: Int) -> [Comparison] {
        (0..<repetitions).compactMap { repetition in
            let bestScores = Dictionary(best.filter { $0.repeat == repetition }.map { ($0.caseID, $0.score) }) { first, _ in first }
            let pairs = method.filter { $0.repeat == repetition && bestScores[$0.caseID] != nil }
            guard let test = try? DeLongTest(labels: pairs.map(\.label), scoresA: pairs.map(\.score),
                                             scoresB: pairs.map { bestScores[$0.caseID]! }) else { return nil }
            return Comparison(repetition: repetition, cases: pairs.count, auc: test.aucA, bestAUC: test.aucB, z: test.z, pValue: test.pValue)
        }
    }

    // MARK: Files

    public static let files = ["predictions.csv", "metrics.csv", "report.md", "report.json", "roc.svg", "auc_by_placement.svg"]

    /// Writes every report file into `directory`, each atomically (temporary file, then rename).
    public func write(to directory: URL) throws {
        let contents = [predictionsCSV(), metricsCSV(), markdown(), try json(), rocChart(), aucChart()]
        for (name, text) in zip(SweepReport.files, contents) {
            try RunDirectory.writeAtomically(Data(text.utf8), to: directory.appendingPathComponent(name))
        }
    }

    /// `case_id,label,placement,repeat,fold,score`: jobs in plan order, cases in the order their job scored them;
    /// scores in Swift's shortest round-trip form (Python's `float()` reads back the same Double).
    public func predictionsCSV() -> String {
        var lines = ["case_id,label,placement,repeat,fold,score"]
        for record in finished {
            for score in record.outcome!.scores {
                lines.append([csvField(score.caseID), "\(score.label)", csvField(record.job.placement), "\(record.job.repetition)",
                              "\(record.job.fold)", "\(score.score)"].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One row per method per (repeat, fold), in report order; empty cells where a metric is undefined.
    public func metricsCSV() -> String {
        var lines = ["placement,kind,repeat,fold,n,auc,acc,sensitivity,specificity,balanced_accuracy,f1"]
        for method in methods {
            for fold in method.metrics?.folds ?? [] {
                let m = fold.metrics
                lines.append(([csvField(method.name), method.kind.rawValue, "\(fold.repeat)", "\(fold.fold)", "\(m.count)"]
                              + [m.auc, m.accuracy, m.sensitivity, m.specificity, m.balancedAccuracy, m.f1].map { $0.map { "\($0)" } ?? "" })
                    .joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table of `report.md`: one row per placement and baseline.
    public func table() -> String {
        var lines = ["| placement | jobs | AUC mean ± std | ACC mean ± std | pooled AUC [95% CI] | sensitivity | specificity | DeLong p vs best | time per job |",
                     "|---|---|---|---|---|---|---|---|---|"]
        for method in methods {
            let name = method.name == best ? "**\(method.name)** (best)" : method.kind == .fineTune ? method.name : "\(method.name) (baseline)"
            let summary = method.metrics?.summary
            let pooled = (method.metrics?.pooled ?? []).map { pooled in
                (pooled.repeat, pooled.metrics.auc.map { auc in
                    fixed(auc) + (pooled.aucCI95.map { " [\(fixed($0.lower)), \(fixed($0.upper))]" } ?? "")
                } ?? "—")
            }
            let pValues = method.comparisons.map { ($0.repetition, $0.pValue.map(pValue) ?? "—") }
            let cells = [name.replacingOccurrences(of: "|", with: "\\|"), "\(method.finishedJobs)/\(method.plannedJobs)",
                         meanStd(summary?.auc), meanStd(summary?.accuracy), perRepeat(pooled), meanStd(summary?.sensitivity),
                         meanStd(summary?.specificity), perRepeat(pValues),
                         method.jobSeconds.isEmpty ? "—" : formatDuration(method.jobSeconds.reduce(0, +) / Double(method.jobSeconds.count))]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    public func markdown() -> String {
        let pairs = plan.folds * plan.repetitions
        var text = """
        # clipcv sweep report

        \(plan.placements.count) placements and 2 baselines, \(plan.folds) folds × \(plan.repetitions) repeat(s), seed \(plan.seed): \
        \(finished.count) of \(plan.jobs.count) jobs finished\(failures.isEmpty ? "" : ", \(failures.count) failed")\
        \(missing.isEmpty ? "" : ", \(missing.count) not run").

        \(table())

        - **AUC, ACC, sensitivity, specificity**: mean ± sample standard deviation (ddof 1) over the \(pairs) (repeat, fold) \
        pairs; a case is predicted 1 when its score > \(threshold).
        - **Pooled AUC**: all out-of-fold scores of a repeat together (one value per repeat); 95% CI from a stratified \
        bootstrap (\(bootstrapResamples) resamples, percentile method).
        - **DeLong p**: two-sided DeLong test of the pooled AUC against the best placement by mean AUC\
        \(best.map { " (`\($0)`)" } ?? " (none finished)"), on the same cases, per repeat.
        - **Time per job**: mean wall-clock seconds of a fold's training and scoring.

        """
        if !failures.isEmpty || !missing.isEmpty {
            text += "\n## Jobs without results\n\n"
            text += failures.map { "- `\($0.job.id)` failed: \($0.error ?? "unknown error")\n" }.joined()
            text += missing.map { "- `\($0.id)` not run (run the sweep again with `--resume`)\n" }.joined()
        }
        text += """

        ## Run

        - cohort: `\(plan.cohortHash)`\(plan.notes["data"].map { " (\($0))" } ?? "")
        - checkpoint: `\(plan.checkpointHash)`\(plan.notes["model"].map { " (\($0))" } ?? "")

        """
        text += plan.notes.keys.sorted().filter { $0 != "data" && $0 != "model" }.map { "- \($0): \(plan.notes[$0]!)\n" }.joined()
        text += "- placements: " + plan.placements.map { "`\($0)`" }.joined(separator: ", ") + "\n"
        text += "- settings: " + plan.settings.keys.sorted().map { "`\($0)` = `\(plan.settings[$0]!)`" }.joined(separator: ", ") + "\n"
        if !plan.versions.isEmpty {
            text += "- versions: " + plan.versions.keys.sorted().map { "\($0) \(plan.versions[$0]!)" }.joined(separator: ", ") + "\n"
        }
        text += """

        Files: `predictions.csv` (every out-of-fold score), `metrics.csv` (per fold), `report.json` (this report), \
        `roc.svg`, `auc_by_placement.svg`, `results.jsonl` (one record per job), `plan.json`.

        """
        return text
    }

    /// `report.json`: the same content, machine-readable (metrics in the layout of `clipcv metrics`).
    public func json() throws -> String {
        struct MethodJSON: Encodable {
            let placement: String
            let kind: SweepJob.Kind
            let jobs_planned: Int
            let jobs_finished: Int
            let metrics: CrossValidationMetrics?
            let delong_vs_best: [Comparison]
            let seconds_per_job: MeanAndDeviation?
            let seconds_total: Double
        }
        struct FailureJSON: Encodable { let id: String; let error: String? }
        struct ReportJSON: Encodable {
            let plan: SweepPlan
            let best_placement: String?
            let threshold: Double
            let bootstrap_resamples: Int
            let std_ddof: Int
            let methods: [MethodJSON]
            let failed: [FailureJSON]
            let not_run: [String]
        }
        let report = ReportJSON(
            plan: plan, best_placement: best, threshold: threshold, bootstrap_resamples: bootstrapResamples,
            std_ddof: CrossValidationMetrics.Summary.stdDdof,
            methods: methods.map { method in
                MethodJSON(placement: method.name, kind: method.kind, jobs_planned: method.plannedJobs, jobs_finished: method.finishedJobs,
                           metrics: method.metrics, delong_vs_best: method.comparisons,
                           seconds_per_job: method.jobSeconds.isEmpty ? nil : MeanAndDeviation(method.jobSeconds),
                           seconds_total: method.jobSeconds.reduce(0, +))
            },
            failed: failures.map { FailureJSON(id: $0.job.id, error: $0.error) }, not_run: missing.map(\.id))
        let encoder = JSONEncoder.sweep
        encoder.outputFormatting.insert(.prettyPrinted)
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }
}

// MARK: - Formatting

/// RFC 4180: quoted when the field holds a comma, quote or line break (placements such as `layers:0,2,5` do).
func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

private func fixed(_ value: Double) -> String { String(format: "%.3f", value) }

private func meanStd(_ value: MeanAndDeviation?) -> String {
    value.map { "\(fixed($0.mean)) ± \(fixed($0.std))" } ?? "—"
}

private func pValue(_ p: Double) -> String { p < 0.001 ? String(format: "%.1e", p) : String(format: "%.3f", p) }

/// One value per repeat: bare for a single repeat 0, `r0: … · r1: …` otherwise.
private func perRepeat(_ values: [(repetition: Int, text: String)]) -> String {
    if values.isEmpty { return "—" }
    if values.count == 1 && values[0].repetition == 0 { return values[0].text }
    return values.map { "r\($0.repetition): \($0.text)" }.joined(separator: " · ")
}
