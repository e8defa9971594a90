import Cohort
import Foundation

/// `clipcv folds`: stratified (repeated) K-fold splits of a manifest, written as CSV for reuse with `--folds-file`.
let foldsCommand = Command(
    name: "folds",
    summary: "make stratified K-fold splits of a manifest (repeated, seeded) and write them as CSV",
    details: """
    Writes FOLDS_CSV with columns case_id,label,repeat,fold: every case once per repeat, in the test fold of that
    repeat. Within each repeat every fold holds each class within one case of its proportional share; repeat r is
    shuffled from (seed, r) alone, so the same seed always gives the same folds. Training and sweeps take the file
    back as --folds-file, as they take folds made elsewhere (e.g. scikit-learn's StratifiedKFold) written as
    case_id,fold[,repeat], or a fold column of the manifest (which this command does not read). One summary line
    per fold goes to stderr.
    """,
    options: [
        .value("data", "MANIFEST", help: "manifest CSV (case_id,label,image,…)", required: true),
        .value("folds", "K", help: "number of folds", required: true),
        .value("repeats", "R", help: "independent repetitions of the K-fold split", default: "1"),
        .value("seed", "S", help: "seed of the shuffles (an integer ≥ 0)", required: true),
        .value("output", "FOLDS_CSV", help: "where to write the folds", required: true),
        .list("classes", "NAME", help: "class names in label order, when the label column holds names"),
    ],
    run: { arguments in
        let folds = try arguments.int("folds"), repeats = try arguments.int("repeats")
        guard folds >= 2 else { throw UsageError("--folds must be at least 2") }
        guard repeats >= 1 else { throw UsageError("--repeats must be at least 1") }
        guard let seed = UInt64(try arguments.string("seed")) else { throw UsageError("--seed must be an integer ≥ 0") }
        let manifest = try Manifest(contentsOf: URL(fileURLWithPath: try arguments.string("data")),
                                    classes: arguments.strings("classes"))
        let assignment = try FoldAssignment.stratified(manifest, folds: folds, repeats: repeats, seed: seed)
        let labels = manifest.labels
        let output = URL(fileURLWithPath: try arguments.string("output"))
        try Data(assignment.csv(caseIDs: manifest.caseIDs, labels: labels).utf8).write(to: output, options: .atomic)

        let classes = Set(labels).sorted()
        for split in assignment.splits {
            let counts = classes.map { label in "class \(label): \(split.test.filter { labels[$0] == label }.count)" }
            FileHandle.standardError.write(Data("folds: repeat \(split.repeat) fold \(split.fold): \(split.test.count) test (\(counts.joined(separator: ", "))), \(split.train.count) train\n".utf8))
        }
        FileHandle.standardError.write(Data("folds: wrote \(manifest.cases.count) cases × \(repeats) repeat\(repeats == 1 ? "" : "s") to \(output.path)\n".utf8))
        return 0
    })
