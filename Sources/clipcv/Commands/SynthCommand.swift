import Cohort
import Foundation

/// `clipcv synth`: writes a synthetic CT-like phantom cohort (the demo's and the tests' built-in data).
let synthCommand = Command(
    name: "synth",
    summary: "write a SYNTHETIC CT-like phantom cohort (PNG slices, NIfTI volumes, lesion masks, manifests)",
    details: """
    The data are synthetic: no patient is in them. Each case is an upper-abdominal axial CT phantom (body, fat,
    muscle, liver, spleen, kidneys, spine, ribs, bowel; plausible HU, correlated noise) with one liver lesion.
    Label 1 = responder, 0 = non-responder (the seed study: 124 responders, 58 non-responders). Non-responders'
    lesions are on average larger, more heterogeneous and more irregular, by --signal standard deviations per
    trait; --signal 0 makes the label invisible.
    Writes into DIR: png/<case>.png (16-bit, HU + 1024) and png/<case>_mask.png, nifti/<case>.nii.gz (int16 HU)
    and nifti/<case>_mask.nii.gz, manifest.csv (PNG slices), manifest_nifti.csv (volumes), README.txt.
    The same seed gives byte-identical files.
    """,
    options: [
        .value("out", "DIR", help: "cohort directory (created)", required: true),
        .value("cases", "N", help: "number of cases", default: "182"),
        .value("responders", "N", help: "cases with label 1", default: "124"),
        .value("seed", "S", help: "random seed", default: "0"),
        .value("signal", "X", help: "label strength, standard deviations per lesion trait (0 = none)", default: "1"),
        .value("size", "PIXELS", help: "slice width and height (360 mm field of view)", default: "224"),
        .value("slices", "N", help: "slices per NIfTI volume (5 mm apart)", default: "5"),
        .value("preview", "PNG", help: "also write an 8-bit picture: first responder | first non-responder, soft-tissue window"),
    ],
    run: { arguments in
        var settings = PhantomSettings()
        settings.cases = try arguments.int("cases")
        settings.responders = try arguments.int("responders")
        guard let seed = UInt64(try arguments.string("seed")) else { throw UsageError("--seed: '\(try arguments.string("seed"))' is not a non-negative integer") }
        settings.seed = seed
        settings.signal = try arguments.double("signal")
        settings.size = try arguments.int("size")
        settings.slices = try arguments.int("slices")
        let cohort: PhantomCohort
        do { cohort = try PhantomCohort(settings) } catch let error as PhantomSettingsError { throw UsageError(error.description) }

        let directory = URL(fileURLWithPath: try arguments.string("out"))
        let total = settings.cases
        let start = Date()
        let files = try cohort.write(to: directory) { done in
            if done % 20 == 0 || done == total {
                FileHandle.standardError.write(Data("synth: \(done)/\(total) cases\n".utf8))
            }
        }
        if let preview = arguments.optionalString("preview") {
            try cohort.writePreview(to: URL(fileURLWithPath: preview))
        }
        struct Summary: Encodable {
            let synthetic = true
            let cases: Int, responders: Int, nonResponders: Int, seed: UInt64, signal: Double, size: Int, slices: Int
            let manifest: String, manifestNifti: String, seconds: Double
        }
        try printJSON(Summary(cases: total, responders: settings.responders, nonResponders: total - settings.responders,
                              seed: seed, signal: settings.signal, size: settings.size, slices: settings.slices,
                              manifest: files.manifest.path, manifestNifti: files.niftiManifest.path,
                              seconds: (Date().timeIntervalSince(start) * 100).rounded() / 100))
        return 0
    })
