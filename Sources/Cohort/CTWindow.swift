/// A CT display window in Hounsfield units: `level ± width/2` maps linearly to [0, 1], values outside clamp.
public struct CTWindow: Sendable, Equatable {
    public var level: Float
    public var width: Float

    /// The abdominal soft-tissue window, level 40 HU, width 400 HU (−160…240 HU).
    public static let softTissue = CTWindow(level: 40, width: 400)

    public init(level: Float, width: Float) {
        precondition(width > 0 && width.isFinite && level.isFinite, "a CT window needs a finite level and a width > 0")
        self.level = level
        self.width = width
    }

    /// The display value in [0, 1] of `hounsfield`.
    public func callAsFunction(_ hounsfield: Float) -> Float {
        min(max((hounsfield - (level - width / 2)) / width, 0), 1)
    }
}

/// How stored intensities become the [0, 1] values the CLIP preprocessing expects.
///
/// The rule, per `IntensityEncoding` of the file:
/// - 8-bit PNG/JPEG (`.display8Bit`) are already display-windowed: always divided by 255, whatever the window.
/// - 16-bit PNG (`.offsetHounsfield16Bit`): `.ct` windows `stored − offset` (HU); `.none` divides by 65535.
/// - NIfTI / NPY (`.values`): `.ct` windows the values as HU (NIfTI scaling already applied); `.none` divides by the
///   encoding's `fullScale` (255 for 8-bit, 65535 for 16-bit unsigned, else 1) and does not clamp.
///
/// Written on the command line as `LEVEL,WIDTH` in HU (e.g. `40,400`) or `none`.
public enum IntensityWindow: Sendable, Equatable, LosslessStringConvertible {
    case ct(CTWindow)
    case none

    public init?(_ description: String) {
        let text = description.trimmingCharacters(in: .whitespaces)
        if text.lowercased() == "none" { self = .none; return }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let level = Float(parts[0].trimmingCharacters(in: .whitespaces)),
              let width = Float(parts[1].trimmingCharacters(in: .whitespaces)),
              level.isFinite, width.isFinite, width > 0 else { return nil }
        self = .ct(CTWindow(level: level, width: width))
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .ct(let window): "\(Self.number(window.level)),\(Self.number(window.width))"
        }
    }

    /// Maps `image` (values as read from a file with `encoding`) to display values in place.
    public func apply(to image: inout GrayImage, encoding: IntensityEncoding, hounsfieldOffset: Float = 1024) {
        switch (encoding, self) {
        case (.display8Bit, _):
            divide(&image, by: 255)
        case (.offsetHounsfield16Bit, .ct(let window)):
            for index in image.pixels.indices { image.pixels[index] = window(image.pixels[index] - hounsfieldOffset) }
        case (.offsetHounsfield16Bit, .none):
            divide(&image, by: 65535)
        case (.values, .ct(let window)):
            for index in image.pixels.indices { image.pixels[index] = window(image.pixels[index]) }
        case (.values(let fullScale), .none):
            if fullScale != 1 { divide(&image, by: fullScale) }
        }
    }

    private func divide(_ image: inout GrayImage, by fullScale: Float) {
        for index in image.pixels.indices { image.pixels[index] /= fullScale }
    }

    /// `40` rather than `40.0`, so the text round-trips the way a user wrote it.
    private static func number(_ value: Float) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(value)
    }
}
