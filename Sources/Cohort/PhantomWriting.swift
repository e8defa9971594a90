import Foundation

extension PhantomCohort {
    /// Where `write(to:)` put the cohort.
    public struct Files: Sendable {
        /// `case_id,label,image,mask,slice` over the 16-bit PNG key slices and their PNG lesion masks.
        public let manifest: URL
        /// The same cases over the NIfTI volumes and mask volumes, `slice` = the lesion's center slice.
        public let niftiManifest: URL
    }

    /// Writes the cohort into `directory`, cases in parallel (each case depends only on the settings and its index,
    /// so the files are byte-identical for a seed however they are scheduled):
    ///   png/<id>.png            key slice, 16-bit gray, HU + 1024
    ///   png/<id>_mask.png       lesion mask of that slice, 8-bit, 255 inside
    ///   nifti/<id>.nii.gz       int16 HU volume
    ///   nifti/<id>_mask.nii.gz  uint8 lesion mask volume, 1 inside
    ///   manifest.csv, manifest_nifti.csv, README.txt
    /// `progress` is called with the number of cases done.
    public func write(to directory: URL, progress: (@Sendable (Int) -> Void)? = nil) throws -> Files {
        let png = directory.appendingPathComponent("png"), nifti = directory.appendingPathComponent("nifti")
        for folder in [png, nifti] {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw ImageWriteError(folder, "cannot create the directory (\(error.localizedDescription))")
            }
        }
        let state = WriteState()
        DispatchQueue.concurrentPerform(iterations: settings.cases) { index in
            guard !state.failed else { return }
            do {
                try writeCase(makeCase(index), png: png, nifti: nifti)
                state.finishOne(progress)
            } catch {
                state.fail(error)
            }
        }
        if let error = state.error { throw error }

        var rows = ["case_id,label,image,mask,slice"], niftiRows = rows
        for index in 0..<settings.cases {
            let id = caseID(index), label = labels[index]
            rows.append("\(id),\(label),png/\(id).png,png/\(id)_mask.png,")
            niftiRows.append("\(id),\(label),nifti/\(id).nii.gz,nifti/\(id)_mask.nii.gz,\(settings.slices / 2)")
        }
        let files = Files(manifest: directory.appendingPathComponent("manifest.csv"),
                          niftiManifest: directory.appendingPathComponent("manifest_nifti.csv"))
        try writeText(rows.joined(separator: "\n") + "\n", to: files.manifest)
        try writeText(niftiRows.joined(separator: "\n") + "\n", to: files.niftiManifest)
        try writeText(readme, to: directory.appendingPathComponent("README.txt"))
        return files
    }

    /// A side-by-side picture of the first responder (left) and the first non-responder (right): key slices in a
    /// soft-tissue window (level 40 HU, width 400 HU), 8-bit, `2·size × size`.
    public func writePreview(to url: URL) throws {
        guard let responder = labels.firstIndex(of: 1), let nonResponder = labels.firstIndex(of: 0) else {
            throw PhantomSettingsError("a preview needs at least one responder and one non-responder")
        }
        let size = settings.size
        let slices = [responder, nonResponder].map { makeCase($0).slice(settings.slices / 2) }
        var pixels = [UInt8](repeating: 0, count: 2 * size * size)
        for (panel, slice) in slices.enumerated() {
            for y in 0..<size {
                for x in 0..<size {
                    // Display window only (the model's input window is the cohort reader's job).
                    let gray = min(max((slice[x, y] - (40 - 200)) / 400, 0), 1)
                    pixels[y * 2 * size + panel * size + x] = UInt8((gray * 255).rounded())
                }
            }
        }
        try PNGWriter.write(gray8: pixels, width: 2 * size, height: size, to: url)
    }

    private func writeCase(_ phantom: PhantomCase, png: URL, nifti: URL) throws {
        let plane = phantom.size * phantom.size, key = phantom.keySlice
        let slice = phantom.hounsfield[(key * plane)..<((key + 1) * plane)].map { UInt16(Int($0) + 1024) }
        try PNGWriter.write(gray16: slice, width: phantom.size, height: phantom.size,
                            to: png.appendingPathComponent("\(phantom.id).png"))
        let mask = phantom.lesionMask[(key * plane)..<((key + 1) * plane)].map { $0 * 255 }
        try PNGWriter.write(gray8: mask, width: phantom.size, height: phantom.size,
                            to: png.appendingPathComponent("\(phantom.id)_mask.png"))
        let millimetres = PhantomSettings.fieldOfViewMM / Float(phantom.size)
        let spacing = (x: millimetres, y: millimetres, z: PhantomSettings.sliceThicknessMM)
        try NIfTIWriter.write(phantom.hounsfield, width: phantom.size, height: phantom.size, depth: phantom.slices,
                              spacing: spacing, description: "clipcv synthetic phantom (HU)",
                              to: nifti.appendingPathComponent("\(phantom.id).nii.gz"))
        try NIfTIWriter.write(phantom.lesionMask, width: phantom.size, height: phantom.size, depth: phantom.slices,
                              spacing: spacing, description: "clipcv synthetic phantom (lesion mask)",
                              to: nifti.appendingPathComponent("\(phantom.id)_mask.nii.gz"))
    }

    private var readme: String {
        """
        SYNTHETIC DATA. Written by `clipcv synth`; no patient is in it.

        \(settings.cases) CT-like phantom cases of the upper abdomen, each with one liver lesion.
        label 1 = responder (\(settings.responders) cases), label 0 = non-responder (\(settings.cases - settings.responders) cases).
        Non-responders' lesions are, on average, larger, more heterogeneous and more irregular; the difference per trait
        is signal = \(settings.signal) standard deviations (0: the label cannot be seen in the images).
        seed \(settings.seed), \(settings.size)×\(settings.size) pixels over \(Int(PhantomSettings.fieldOfViewMM)) mm, \
        \(settings.slices) slices \(Int(PhantomSettings.sliceThicknessMM)) mm apart.

        manifest.csv        png/<case>.png: the lesion's center slice, 16-bit gray, value = HU + 1024;
                            png/<case>_mask.png: its lesion mask (255 inside)
        manifest_nifti.csv  nifti/<case>.nii.gz: int16 HU volume; nifti/<case>_mask.nii.gz: lesion mask (1 inside);
                            slice = the lesion's center slice (0-based)

        """
    }

    private func writeText(_ text: String, to url: URL) throws {
        do { try Data(text.utf8).write(to: url) } catch {
            throw ImageWriteError(url, "cannot be written (\(error.localizedDescription))")
        }
    }
}

/// Progress and the first error of a parallel write.
private final class WriteState: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private var firstError: Error?

    var failed: Bool { lock.withLock { firstError != nil } }
    var error: Error? { lock.withLock { firstError } }

    /// Counts a finished case and reports the count, under the lock so reports arrive in order.
    func finishOne(_ progress: (@Sendable (Int) -> Void)?) {
        lock.withLock {
            done += 1
            progress?(done)
        }
    }
    func fail(_ error: Error) { lock.withLock { if firstError == nil { firstError = error } } }
}
