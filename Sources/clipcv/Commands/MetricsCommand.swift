import BLASCore
import Evaluation
import Foundation

/// `clipcv metrics --predictions preds.csv`: per-fold, summary and pooled metrics of out-of-fold predictions, as JSON.
let metricsCommand = Command(
    name: "metrics",
    summary: "AUC, accuracy, sensitivity, specificity, balanced accuracy and F1 of out-of-fold predictions, as JSON",
    details: """
    reads a CSV with a header: case_id,label,score[,fold][,repeat] (label 0/1, score = P(label 1); without fold/repeat
    columns every row is fold 0 of repeat 0). A case is predicted 1 iff score > threshold. Values equal scikit-learn's.
    prints {"folds":[per (repeat, fold)], "summary":{metric:{"mean","std"}, "std_ddof":1}, "pooled":[per repeat, with
    "auc_ci95" from a stratified bootstrap (percentile method)]}. A metric undefined on a set of cases (AUC or a recall
    when its class is absent, F1 with no case labelled or predicted 1) is null and left out of the summary.
    """,
    options: [
        .value("predictions", "FILE.csv", help: "predictions: case_id,label,score[,fold][,repeat]", required: true),
        .value("threshold", "T", help: "a case is predicted 1 iff its score > T", default: "0.5"),
        .value("bootstrap", "N", help: "bootstrap resamples for the pooled AUC's 95% CI (0: no CI)", default: "2000"),
        .value("seed", "S", help: "seed of the bootstrap", default: "0"),
    ],
    run: { arguments in
        let path = try arguments.string("predictions")
        let threshold = try arguments.double("threshold")
        guard threshold.isFinite else { throw UsageError("--threshold must be a finite number") }
        let resamples = try arguments.int("bootstrap")
        guard resamples >= 0 else { throw UsageError("--bootstrap must be ≥ 0") }
        guard let seed = UInt64(try arguments.string("seed")) else { throw UsageError("--seed must be an integer ≥ 0") }
        let table = try PredictionTable(contentsOf: URL(fileURLWithPath: path))
        var generator = SeededGenerator(seed: seed)
        do {
            try printJSON(CrossValidationMetrics(predictions: table.predictions, threshold: threshold,
                                                 bootstrapResamples: resamples, using: &generator))
        } catch let error as EvaluationError {
            throw EvaluationError("\(path): \(error)")
        }
        return 0
    })
