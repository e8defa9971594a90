import Foundation

/// What a file's stored numbers mean; it decides how an `IntensityWindow` maps them to [0, 1].
public enum IntensityEncoding: Sendable, Equatable {
    /// 8-bit PNG/JPEG: display values 0…255, already windowed when the file was made.
    case display8Bit
    /// 16-bit PNG: for CT, stored value = HU + offset (the phantom cohort's convention, offset 1024, so −1024 HU
    /// is 0); `CaseImageReader.hounsfieldOffset` sets the offset.
    case offsetHounsfield16Bit
    /// NIfTI / NPY values as stored (after NIfTI `scl_slope`/`scl_inter`): HU for CT. `fullScale` is the stored
    /// type's full range that the `none` window divides by: 255 for 8-bit and 65535 for 16-bit unsigned data that
    /// no NIfTI scaling changed, 1 otherwise (floats and signed integers are taken as already scaled).
    case values(fullScale: Float)
}

/// A stack of 2-D gray slices as read from one file, in the file's own voxel order: `x` (NIfTI `i`) fastest, then
/// `y` (`j`), then the slice `k`; no reorientation is applied, so a slice shows row `j` as image row `y`.
/// A 2-D image is a volume of depth 1.
public struct GrayVolume: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let depth: Int
    /// `voxels[x + width * (y + height * k)]`.
    public var voxels: [Float]
    public let encoding: IntensityEncoding

    public init(width: Int, height: Int, depth: Int, voxels: [Float], encoding: IntensityEncoding) {
        precondition(voxels.count == width * height * depth, "volume \(width)×\(height)×\(depth) needs \(width * height * depth) voxels, got \(voxels.count)")
        self.width = width
        self.height = height
        self.depth = depth
        self.voxels = voxels
        self.encoding = encoding
    }

    /// Slice `k` (0-based) as a 2-D image.
    public func slice(_ k: Int) -> GrayImage {
        precondition(k >= 0 && k < depth, "slice \(k) of a volume with \(depth) slices")
        let size = width * height
        return GrayImage(width: width, height: height, pixels: Array(voxels[(k * size)..<((k + 1) * size)]))
    }

    var shapeText: String { depth == 1 ? "\(width)×\(height)" : "\(width)×\(height)×\(depth)" }
}

/// Reads any supported image file into a `GrayVolume`, choosing the reader by the file name's extension:
/// `.png`, `.jpg`, `.jpeg` (stb_image, 8/16-bit, color converted to luma), `.nii`, `.nii.gz` (nifti2_io, NIfTI-1/2),
/// `.npy` (2-D H×W, or 3-D D×H×W taken as D slices).
public enum ImageFile {
    public static func read(_ url: URL) throws -> GrayVolume {
        switch try format(of: url) {
        case .raster: return try RasterImage.read(url)
        case .nifti: return try NIfTIVolume.read(url)
        case .npy: return try NPYArray(contentsOf: url).grayVolume(file: url)
        }
    }

    enum Format { case raster, nifti, npy }

    static func format(of url: URL) throws -> Format {
        let name = url.lastPathComponent.lowercased()
        if name.hasSuffix(".png") || name.hasSuffix(".jpg") || name.hasSuffix(".jpeg") { return .raster }
        if name.hasSuffix(".nii") || name.hasSuffix(".nii.gz") { return .nifti }
        if name.hasSuffix(".npy") { return .npy }
        throw ImageFileError(url, "has an unsupported image type (expected .png, .jpg, .jpeg, .nii, .nii.gz or .npy)")
    }

    /// Throws the file's own problem (missing, a directory, unreadable) before a decoder reports a vaguer one.
    static func checkReadable(_ url: URL) throws {
        if let problem = Manifest.fileProblem(url) { throw ImageFileError(url, problem) }
    }
}

/// Turns one manifest case into the 2-D image the model sees, in [0, 1]: read the image, pick the slice, crop to
/// the mask's region of interest, apply the intensity window. The CLIP preprocessing takes it from there.
///
/// Slice choice for a volume (depth > 1): the `slice` column when given; otherwise, with a mask, the slice with
/// the largest mask area (`RegionOfInterest.largestSlice`); otherwise it is an error. A mask (non-zero = inside)
/// must have the image's width and height, and either its depth or depth 1 (a mask of the chosen slice, which then
/// needs a `slice`). With a mask the image is cropped to the mask's bounding box on that slice, grown by
/// `roiMargin` pixels on every side and clamped to the image.
public struct CaseImageReader: Sendable, Equatable {
    public var window: IntensityWindow
    public var roiMargin: Int
    /// 16-bit PNG CT slices store HU + this offset.
    public var hounsfieldOffset: Float

    public init(window: IntensityWindow = .ct(.softTissue), roiMargin: Int = 16, hounsfieldOffset: Float = 1024) {
        precondition(roiMargin >= 0, "the ROI margin must be ≥ 0 pixels")
        self.window = window
        self.roiMargin = roiMargin
        self.hounsfieldOffset = hounsfieldOffset
    }

    public func image(for item: Manifest.Case) throws -> GrayImage {
        try image(at: item.image, slice: item.slice, mask: item.mask)
    }

    public func image(at url: URL, slice: Int? = nil, mask maskURL: URL? = nil) throws -> GrayImage {
        let volume = try ImageFile.read(url)
        if let slice, slice >= volume.depth {
            throw ImageFileError(url, "slice \(slice) is out of range: the image has \(volume.depth) slice\(volume.depth == 1 ? "" : "s") (0…\(volume.depth - 1))")
        }
        var image: GrayImage
        if let maskURL {
            let mask = try ImageFile.read(maskURL)
            let region = try RegionOfInterest.locate(mask: mask, maskFile: maskURL, image: volume, imageFile: url, slice: slice)
            image = volume.slice(region.slice)
                .cropped(to: region.box.expanded(by: roiMargin, within: volume.width, volume.height))
        } else {
            guard let k = slice ?? (volume.depth == 1 ? 0 : nil) else {
                throw ImageFileError(url, "is a volume of \(volume.depth) slices: give a slice or a mask column to pick one")
            }
            image = volume.slice(k)
        }
        window.apply(to: &image, encoding: volume.encoding, hounsfieldOffset: hounsfieldOffset)
        return image
    }
}

/// An image file that cannot be used: one line naming the file and what is wrong with it.
public struct ImageFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let problem: String

    public init(_ url: URL, _ problem: String) {
        self.file = url.path
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
